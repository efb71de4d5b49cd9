"""`budget_status`: evaluate every active budget exactly and keep budgetalerts up to date.

Per budget, in one transaction holding the budget's lock: the window's spend is summed from the
executions (the exact number), written back to current_spend_usd in cents, and the alert events
due are recorded (a level held with no event in the window; crossings are caught by
`apply_spend`). The ledger's number is read in the same statement: when it differs, a writer has
bypassed `apply_spend` (or executions were deleted), which is logged and repaired by rebuilding
the ledger. Pending alert emails are then sent (or retried).

With record=False it only reads: the same statuses from one read-only snapshot, with nothing
written back, recorded, rebuilt or emailed, so dashboards and reports can show budgets of a
database the kit may only read.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, Engine, update
from sqlalchemy.engine import URL

from aa_notebooks.budgets.alerts import record_alerts
from aa_notebooks.budgets.capabilities import Capabilities, capabilities
from aa_notebooks.budgets.delivery import AlertMailer, deliver_pending
from aa_notebooks.budgets.ledger import ledger_ready, rebuild_ledger
from aa_notebooks.budgets.model import Budget
from aa_notebooks.budgets.money import cents
from aa_notebooks.budgets.scope import BUDGETS
from aa_notebooks.budgets.spend import both_spends, exact_spend
from aa_notebooks.budgets.status import BudgetStatus, BudgetStatusList, assess, unavailable
from aa_notebooks.budgets.store import active_budgets, load_budgets
from aa_notebooks.budgets.transactions import read_transaction, write_transaction
from aa_notebooks.budgets.window import Window, utc
from aa_notebooks.db.engine import get_engine

log = logging.getLogger(__name__)


def budget_status(
    url: str | URL | None = None,
    *,
    user_id: uuid.UUID | str | None = None,
    now: datetime | None = None,
    mailer: AlertMailer | None = None,
    record: bool = True,
) -> BudgetStatusList:
    """The status of each active budget (those `user_id` owns, when given) at `now`; with
    `record=False`, read only (see the module docstring)."""
    engine = get_engine(url)
    caps = capabilities(engine)
    caps.require_budgets()
    now = utc(now)
    condition = active_budgets(user_id)
    if not record:
        return _read_only(engine, caps, condition, now)
    with engine.connect() as connection:
        budgets = load_budgets(connection, caps, condition)
    with_ledger = ledger_ready(engine)
    statuses, drifted = BudgetStatusList(), []
    for budget in budgets:
        if reason := caps.unavailable(budget.scope):
            statuses.append(unavailable(budget, now, reason))
            continue
        status, ledger_agrees = _evaluate(engine, caps, budget, now, with_ledger)
        if status is not None:
            statuses.append(status)
        if not ledger_agrees:
            drifted.append(budget.label)
    if drifted:
        log.warning(
            "the spend ledger disagreed with the executions for %s (executions written without "
            "apply_spend, or deleted): rebuilding it",
            ", ".join(drifted),
        )
        rebuild_ledger(engine)
    deliver_pending(engine, mailer)
    return statuses


def _read_only(
    engine: Engine, caps: Capabilities, condition: ColumnElement[bool], now: datetime
) -> BudgetStatusList:
    """The statuses of the budgets matching `condition`, summed from the executions in one
    read-only transaction."""
    statuses = BudgetStatusList()
    with read_transaction(engine) as connection:
        for budget in load_budgets(connection, caps, condition):
            if reason := caps.unavailable(budget.scope):
                statuses.append(unavailable(budget, now, reason))
            else:
                window = Window.ending(now, budget.period_days)
                statuses.append(assess(budget, exact_spend(connection, budget, window), now))
    return statuses


def _evaluate(
    engine: Engine, caps: Capabilities, budget: Budget, now: datetime, with_ledger: bool
) -> tuple[BudgetStatus | None, bool]:
    """Evaluate one budget under its lock; the status (None if it was just deleted) and whether
    the ledger agreed with the executions."""
    with write_transaction(engine) as connection:
        fresh = load_budgets(connection, caps, BUDGETS.c.id == budget.id, lock=True)
        if not fresh:
            return None, True
        budget = fresh[0]
        window = Window.ending(now, budget.period_days)
        if with_ledger:
            spend, by_ledger = both_spends(connection, budget, window)
            ledger_agrees = spend == by_ledger
        else:
            spend, ledger_agrees = exact_spend(connection, budget, window), True
        connection.execute(
            update(BUDGETS).where(BUDGETS.c.id == budget.id).values(current_spend_usd=cents(spend))
        )
        if caps.has_events:
            record_alerts(connection, budget, window, spend, Decimal(0))
    return assess(budget, spend, now), ledger_agrees
