"""Count executions towards budgets in the transaction that inserts them, and record alerts.

`apply_spend` runs inside the writer's transaction, after the executions are inserted: it adds
their cost to the spend ledger and, for each active budget they count towards, locks the budget
row (PostgreSQL; SQLite's writers already run one at a time), reads its spend, and records the
alert events this write makes due. The spend, the rows and the events commit together or not at
all. Recording is never refused: a hard stop only refuses executions that have not started.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_
from sqlalchemy.engine import URL

from aa_notebooks.budgets.alerts import record_alerts
from aa_notebooks.budgets.capabilities import capabilities
from aa_notebooks.budgets.delivery import AlertNotifier, deliver_in_background
from aa_notebooks.budgets.ledger import Spend, add_spend, is_trusted, spends
from aa_notebooks.budgets.model import Budget
from aa_notebooks.budgets.money import from_micros
from aa_notebooks.budgets.scope import (
    EXECUTIONS,
    applied,
    budget_key,
    budgets_for_keys,
    key_params,
)
from aa_notebooks.budgets.spend import exact_spend, ledger_spend
from aa_notebooks.budgets.store import ACTIVE, load_budgets
from aa_notebooks.budgets.transactions import write_transaction
from aa_notebooks.budgets.window import SpendWindow, utc
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.not_stored import say_not_stored
from aa_notebooks.db.records import AgentExecutionCreate, with_finished_times
from aa_notebooks.db.rollups.record import begin_writing, record_rollups
from aa_notebooks.db.stored_uuid import as_referenced
from aa_notebooks.db.users import add_missing_users


def apply_spend(
    connection: Connection,
    executions: Sequence[Mapping[str, Any]],
    *,
    now: datetime | None = None,
) -> int:
    """Count inserted executions (user_id, agent_id, agent_name, flow_id, cost_usd, started_at)
    towards budgets in the caller's transaction; returns how many alert events it recorded.

    When it returns more than zero, call `deliver_alerts` after the commit to email them.
    """
    caps = capabilities(connection)
    added = spends(executions)
    if caps.has_ledger:
        add_spend(connection, added)
    if not caps.has_events or not executions:  # no budgets to alert on: just count the spend
        return 0
    now = utc(now)
    keys = frozenset().union(*{spend.keys for spend in added})
    condition = _active_for_keys(caps.has_targets, caps.has_per_user)
    from_ledger = caps.has_ledger and is_trusted(connection)
    recorded = 0
    found = load_budgets(connection, caps, condition, key_params(keys), lock=True)
    for budget in applied(found, keys):
        if caps.unavailable(budget):
            continue
        window = SpendWindow.ending(now, budget.period_days)
        cost = _added(budget, window, added)
        if cost:
            read = ledger_spend if from_ledger else exact_spend
            spend = read(connection, budget, window)
            recorded += record_alerts(connection, budget, window, spend)
    return recorded


def record_execution(
    url: str | URL | None,
    record: AgentExecutionCreate,
    *,
    now: datetime | None = None,
    on_alerts: AlertNotifier = deliver_in_background,
) -> None:
    """Insert one execution and count its spend in one transaction, then hand the alerts it made
    due to `on_alerts` (default: email and post them from a background thread, so a slow mail
    server or webhook never holds up the caller; `wait_for_deliveries` waits for it).

    With neither started_at nor completed_at, the run started at `now`, so the row and its
    ledger hour agree, and ends after its duration; in the kit's own database a user_id missing
    from users is added there, as the tracker does.
    """
    engine = get_engine(url)
    caps = capabilities(engine)
    row = record.model_dump(exclude_none=True)
    if "started_at" not in row and "completed_at" not in row:
        row["started_at"] = utc(now)
    row = with_finished_times(row)
    lost = set(row) - caps.execution_columns
    row = {name: value for name, value in row.items() if name not in lost}
    with write_transaction(engine) as connection:
        say_not_stored(connection, EXECUTIONS.name, lost)
        if (user_id := row.get("user_id")) is not None:
            add_missing_users(connection, [user_id])
        begin_writing(connection)
        connection.execute(EXECUTIONS.insert().values(**as_referenced(connection, EXECUTIONS, row)))
        record_rollups(connection, [row])
        recorded = apply_spend(connection, [row], now=now)
    if recorded:
        on_alerts(engine.url)


@cache
def _active_for_keys(has_targets: bool, has_per_user: bool) -> ColumnElement[bool]:
    """SQL condition: the active budgets of the keys bound by `key_params`."""
    return and_(ACTIVE, budgets_for_keys(has_targets, has_per_user))


def _added(budget: Budget, window: SpendWindow, added: Sequence[Spend]) -> Decimal:
    """The cost these executions add to the budget's window."""
    key = budget_key(budget)
    return from_micros(
        sum(
            spend.micros
            for spend in added
            if key in spend.keys
            and spend.started_at is not None
            and window.start <= spend.started_at <= window.end
        )
    )
