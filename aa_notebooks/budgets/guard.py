"""`check_budget`: refuse to start an execution while a hard_stop budget of its scope is spent.

Why this is consistent with many writers at once: the check takes no lock; it reads committed
data only. Every writer adds its spend to the ledger in the transaction that inserts its
executions (`apply_spend`), so once the commit that took a budget past its threshold is done,
any check that starts afterwards reads a ledger (and partial-hour executions) that include it,
computes the exact window spend, and refuses. Only executions whose check ran before that commit
(in flight) can overshoot. The ledger's increments are atomic upserts, so no concurrent addition
is lost; a check costs one read of the hard_stop budgets and, per matching budget, one read of
at most 24 * period_days + 1 ledger rows plus under an hour of executions (`spend.LedgerSplit`).

In the kit's own database the matching active hard stops come from the process's copy of them
(`definitions`), read again only when the budget generation moved: a budget created, deleted or
redefined by any process counts from the next check on (on PostgreSQL, from when its commit's
notification arrives). With no matching hard stop (the usual case) that is all: no round trip
on PostgreSQL, one read of a one-row table on SQLite. Otherwise one statement on an autocommit
connection (`db.driver_sql`, `spend.ledger_spends_statement` compiled once per shape into the
driver's SQL) reads all their spends, which are never cached.

Without the ledger (an attached AgentOS database) each matching budget's window is summed from
the executions instead: as consistent, slower. Rows written behind the ledger (by another
program or plain SQL) are in hours the rollups' triggers mark: such an hour is read from the
executions rather than the ledger (`spend.stale_hours`) until a rebuild of the rollups refills
it.

Spend that a writer of this process holds but has not committed yet (its queue and the batch in
flight) is invisible to those reads; `pending` adds it, per ledger key, so a batched writer's
backlog cannot let runs through past the threshold. Read before the database, it can count a
batch that commits meanwhile twice (refusing a moment early), never zero times.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from functools import cache

from sqlalchemy import ColumnElement, Engine, and_
from sqlalchemy.engine import URL

from aa_notebooks.budgets.capabilities import Capabilities, capabilities
from aa_notebooks.budgets.definitions import hard_stops
from aa_notebooks.budgets.fields import canonical_target, parse_uuid
from aa_notebooks.budgets.ledger import ledger_ready
from aa_notebooks.budgets.model import Budget
from aa_notebooks.budgets.money import cents, from_micros
from aa_notebooks.budgets.scope import (
    BUDGETS,
    applied,
    budget_key,
    budgets_for_keys,
    key_params,
)
from aa_notebooks.budgets.spend import (
    exact_spend,
    ledger_spend,
    ledger_spends_params,
    ledger_spends_statement,
    marked_hours_read_raw,
    spend_shape,
    spends_from_rows,
)
from aa_notebooks.budgets.store import ACTIVE, load_budgets
from aa_notebooks.budgets.window import SpendWindow, utc
from aa_notebooks.db.driver_sql import driver_fetch
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.rollups.state import has_rollups
from aa_notebooks.db.schema import BudgetAlertType, BudgetScope
from aa_notebooks.db.spend_ledger import LedgerKey
from aa_notebooks.errors import BudgetExceededError

Pending = Callable[[LedgerKey], int]
"""Micro-dollars this process has recorded but not committed yet, per ledger key."""


def check_budget(
    url: str | URL | None = None,
    *,
    user_id: uuid.UUID | str | None = None,
    agent: uuid.UUID | str | None = None,
    agent_id: uuid.UUID | str | None = None,
    flow: str | None = None,
    now: datetime | None = None,
    pending: Pending | None = None,
) -> None:
    """Raise BudgetExceededError when an active hard_stop budget of a matching scope (global;
    the user; the agent, by name or id; the flow) has reached its threshold; else return.

    `pending` gives the micro-dollars this process has recorded but not committed yet for a
    ledger key (see the module docstring); they count as spent."""
    engine = get_engine(url)
    caps = capabilities(engine)
    caps.require_budgets()
    keys = run_keys(user_id, agent, agent_id, flow)
    check = check_on_driver if _fast(caps) and ledger_ready(engine) else check_on_connection
    check(engine, caps, keys, utc(now), pending or _nothing_pending)


def check_on_connection(
    engine: Engine, caps: Capabilities, keys: set[LedgerKey], now: datetime, pending: Pending
) -> None:
    """`check_budget` through SQLAlchemy connections: any database, with or without the ledger
    (without it, each budget's window is summed from the executions)."""
    read = ledger_spend if ledger_ready(engine) else exact_spend
    with engine.connect() as connection:
        condition = _hard_stops(caps.has_targets, caps.has_per_user)
        found = load_budgets(connection, caps, condition, key_params(keys))
        for budget in applied(found, keys):
            if caps.unavailable(budget):
                continue
            held = from_micros(pending(budget_key(budget)))
            _refuse_at_threshold(
                budget, held + read(connection, budget, SpendWindow.ending(now, budget.period_days))
            )


def check_on_driver(
    engine: Engine, caps: Capabilities, keys: set[LedgerKey], now: datetime, pending: Pending
) -> None:
    """`check_budget` in the kit's own database (it has the ledger, targets and flows), on the
    driver: the matching hard stops come from this process's copy of the active ones
    (`definitions`: usually none, and then that is all), one statement reads all their spends.
    What is pending is read before the spends, so a batch committed in between is counted."""
    stored = [
        budget
        for budget in hard_stops(engine, caps).current()
        if (budget.template or budget_key(budget) in keys) and not budget.stored_problem
    ]
    if not stored:
        return
    budgets = applied(stored, keys)
    if not budgets:  # only per-user budgets, and a run of no user
        return
    held = [from_micros(pending(budget_key(budget))) for budget in budgets]
    windows = [SpendWindow.ending(now, budget.period_days) for budget in budgets]
    shapes = tuple(spend_shape(budget) for budget in budgets)
    statement = ledger_spends_statement(shapes, has_rollups(engine))
    rows = driver_fetch(engine, statement, ledger_spends_params(budgets, windows))
    spends = spends_from_rows(rows, windows)
    for budget, extra, window, (spend, marked) in zip(budgets, held, windows, spends, strict=True):
        if marked:  # hours whose rows were changed behind the ledger, or rewritten by the kit
            with engine.connect() as connection:
                spend = marked_hours_read_raw(connection, budget, window, spend)
        _refuse_at_threshold(budget, extra + spend)


def _refuse_at_threshold(budget: Budget, spend: Decimal) -> None:
    if spend >= budget.threshold_usd:
        raise BudgetExceededError(budget.label, cents(spend), budget.threshold_usd)


@cache
def _hard_stops(has_targets: bool, has_per_user: bool) -> ColumnElement[bool]:
    """SQL condition: the active hard_stop budgets of the keys bound by `key_params`."""
    hard_stop = BUDGETS.c.alert_type == BudgetAlertType.hard_stop
    return and_(ACTIVE, hard_stop, budgets_for_keys(has_targets, has_per_user))


def run_keys(
    user_id: uuid.UUID | str | None,
    agent: uuid.UUID | str | None,
    agent_id: uuid.UUID | str | None,
    flow: str | None,
) -> set[LedgerKey]:
    """The ledger keys of an execution with these attributes: the budgets that may stop it."""
    keys = {(BudgetScope.global_.value, "")}
    if user_id is not None:
        keys.add((BudgetScope.user.value, str(parse_uuid(user_id, "user_id"))))
    if agent is not None:
        keys.add((BudgetScope.agent.value, str(agent)))
        keys.add((BudgetScope.agent.value, str(canonical_target(BudgetScope.agent, str(agent)))))
    if agent_id is not None:
        keys.add((BudgetScope.agent.value, str(parse_uuid(agent_id, "agent_id"))))
    if flow:
        keys.add((BudgetScope.flow.value, flow))
    return keys


def _fast(caps: Capabilities) -> bool:
    """Whether the database has what `check_on_driver` reads (the kit's own has)."""
    return caps.has_ledger and caps.has_targets and caps.has_flows and caps.kit_owned


def _nothing_pending(key: LedgerKey) -> int:
    return 0
