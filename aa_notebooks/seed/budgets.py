"""The three demo budget alerts, with thresholds chosen from the spend just seeded.

Spend is the sum of `cost_usd` of executions started in the last `period_days` before `now`.
The thresholds put each budget in a known state (for a seed with spend in every scope):
- the global `warning` budget is in warning: spend is 82-90 % of its (round) threshold;
- the agent `hard_stop` budget on `code-reviewer` is exceeded: spend is 125-139 % of it;
- alice's user budget is ok but just under its 80 % alert: spend is 78 % of it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import cast

from sqlalchemy import ColumnElement, Connection, func, select

from aa_notebooks.db.records import BudgetAlertCreate
from aa_notebooks.db.schema import (
    AgentExecution,
    BudgetAlert,
    BudgetAlertType,
    BudgetScope,
    table_of,
)
from aa_notebooks.seed.catalog import USERS, entity_id

PERIOD_DAYS = 30
ALERT_AT = 80
BUDGET_AGENT = "code-reviewer"
OWNER = USERS[0]
"""alice owns the three budgets (as the one who created them) and is the user-scoped one's user."""
CENTS = Decimal("0.01")
MINIMUM = Decimal("1.00")
"""The threshold when a scope has no spend in its window (a threshold must be positive)."""


def budget_alerts(connection: Connection, now: datetime) -> list[BudgetAlertCreate]:
    """The demo budgets for the executions in the database, as of `now` (aware UTC)."""
    since = now - timedelta(days=PERIOD_DAYS)
    spend_global = _spend(connection, since, now)
    spend_agent = _spend(connection, since, now, AgentExecution.agent_name == BUDGET_AGENT)
    spend_user = _spend(connection, since, now, AgentExecution.user_id == OWNER.id)
    return [
        _budget(
            "Organisation monthly budget",
            BudgetScope.global_,
            BudgetAlertType.warning,
            _round_figure(spend_global / Decimal("0.9"), ROUND_CEILING),
            spend_global,
        ),
        _budget(
            f"{BUDGET_AGENT} hard stop",
            BudgetScope.agent,
            BudgetAlertType.hard_stop,
            _round_figure(spend_agent / Decimal("1.25"), ROUND_FLOOR),
            spend_agent,
            target=BUDGET_AGENT,
        ),
        _budget(
            f"{OWNER.username}'s monthly budget",
            BudgetScope.user,
            BudgetAlertType.warning,
            (spend_user / Decimal("0.78")).quantize(CENTS, ROUND_CEILING),
            spend_user,
        ),
    ]


def write_budget_alerts(connection: Connection, budgets: list[BudgetAlertCreate]) -> int:
    """Insert the budgets, replacing earlier seeds' budgets of the same (stable) ids."""
    table = table_of(BudgetAlert)
    connection.execute(table.delete().where(table.c.id.in_([b.id for b in budgets])))
    connection.execute(table.insert(), [b.model_dump() for b in budgets])
    return len(budgets)


def _spend(
    connection: Connection, since: datetime, until: datetime, *where: ColumnElement[bool]
) -> Decimal:
    """Total cost of the executions started in [since, until] matching `where`."""
    query = select(func.coalesce(func.sum(AgentExecution.cost_usd), 0)).where(
        AgentExecution.started_at >= since, AgentExecution.started_at <= until, *where
    )
    return Decimal(cast(Decimal, connection.execute(query).scalar_one()))  # COALESCE: not NULL


def _round_figure(amount: Decimal, rounding: str) -> Decimal:
    """`amount` to two significant figures: a threshold a person would pick."""
    if amount <= 0:
        return amount
    step = Decimal(1).scaleb(amount.adjusted() - 1)
    return (amount / step).to_integral_value(rounding) * step


def _budget(
    name: str,
    scope: BudgetScope,
    alert_type: BudgetAlertType,
    threshold: Decimal,
    spend: Decimal,
    target: str | None = None,
) -> BudgetAlertCreate:
    return BudgetAlertCreate(
        id=entity_id("budget", name),
        user_id=OWNER.id,
        scope=scope,
        threshold_usd=max(threshold.quantize(CENTS, ROUND_HALF_UP), CENTS) if spend else MINIMUM,
        period_days=PERIOD_DAYS,
        alert_type=alert_type,
        alert_at_percentage=ALERT_AT,
        current_spend_usd=spend.quantize(CENTS, ROUND_HALF_UP),
        name=name,
        target=target,
    )
