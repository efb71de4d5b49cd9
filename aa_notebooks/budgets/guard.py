"""`check_budget`: refuse to start an execution while a hard_stop budget of its scope is spent.

Why this is consistent with many writers at once: the check takes no lock; it reads committed
data only. Every writer adds its spend to the ledger in the transaction that inserts its
executions (`apply_spend`), so once the commit that took a budget past its threshold is done,
any check that starts afterwards reads a ledger (and partial-hour executions) that include it,
computes the exact window spend, and refuses. Only executions whose check ran before that commit
(in flight) can overshoot. The ledger's increments are atomic upserts, so no concurrent addition
is lost; a check costs one read of the hard_stop budgets and, per matching budget, one read of
at most 24 * period_days ledger rows plus the executions of two partial hours.

Without the ledger (an attached AgentOS database) each matching budget's window is summed from
the executions instead: as consistent, slower.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import cache

from sqlalchemy import ColumnElement, and_
from sqlalchemy.engine import URL

from aa_notebooks.budgets.capabilities import capabilities
from aa_notebooks.budgets.fields import canonical_target, parse_uuid
from aa_notebooks.budgets.ledger import ledger_ready
from aa_notebooks.budgets.money import cents
from aa_notebooks.budgets.scope import BUDGETS, LedgerKey, budgets_for_keys, key_params
from aa_notebooks.budgets.spend import exact_spend, ledger_spend
from aa_notebooks.budgets.store import ACTIVE, load_budgets
from aa_notebooks.budgets.window import Window, utc
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import BudgetAlertType, BudgetScope
from aa_notebooks.errors import BudgetExceededError


def check_budget(
    url: str | URL | None = None,
    *,
    user_id: uuid.UUID | str | None = None,
    agent: uuid.UUID | str | None = None,
    agent_id: uuid.UUID | str | None = None,
    flow: str | None = None,
    now: datetime | None = None,
) -> None:
    """Raise BudgetExceededError when an active hard_stop budget of a matching scope (global;
    the user; the agent, by name or id; the flow) has reached its threshold; else return."""
    engine = get_engine(url)
    caps = capabilities(engine)
    caps.require_budgets()
    now = utc(now)
    params = key_params(_keys(user_id, agent, agent_id, flow))
    read = ledger_spend if ledger_ready(engine) else exact_spend
    with engine.connect() as connection:
        for budget in load_budgets(connection, caps, _hard_stops(caps.has_targets), params):
            if caps.unavailable(budget.scope):
                continue
            spend = read(connection, budget, Window.ending(now, budget.period_days))
            if spend >= budget.threshold_usd:
                raise BudgetExceededError(budget.label, cents(spend), budget.threshold_usd)


@cache
def _hard_stops(has_targets: bool) -> ColumnElement[bool]:
    """SQL condition: the active hard_stop budgets of the keys bound by `key_params`."""
    hard_stop = BUDGETS.c.alert_type == BudgetAlertType.hard_stop
    return and_(ACTIVE, hard_stop, budgets_for_keys(has_targets))


def _keys(
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
