"""Budget history, read only: each budget's spend per UTC day of its rolling window (for burn-down
and burn-up charts), and the alert events that fired in a period.

The days are the analytics layer's day buckets (every day present even when nothing was spent),
narrowed to the budget's executions by `spend.counted` and summed exactly, so they add up to the
spend `budget_status` reports for the same window: from the rollups' whole hours and days and the
raw rows of the partial and changed hours where the database has rollups
(`spend.rollup_daily_spends`), else per day from the executions (`per_bucket`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, Connection, and_, null, select
from sqlalchemy.engine import URL

from aa_notebooks.analytics import periods
from aa_notebooks.analytics.buckets import bucket_bounds, per_bucket
from aa_notebooks.analytics.dialect import Dialect, dialect_for
from aa_notebooks.analytics.rollup_plan import ReadPlan
from aa_notebooks.budgets.alerts import EVENTS, events_of_user
from aa_notebooks.budgets.capabilities import Capabilities, capabilities
from aa_notebooks.budgets.fields import parse_uuid
from aa_notebooks.budgets.model import Budget
from aa_notebooks.budgets.per_user import applied_in
from aa_notebooks.budgets.scope import BUDGETS, EXECUTIONS
from aa_notebooks.budgets.spend import SpendPlans, counted, counted_params, rollup_daily_spends
from aa_notebooks.budgets.store import active_budgets, load_budgets
from aa_notebooks.budgets.transactions import read_transaction
from aa_notebooks.budgets.window import SpendWindow, utc
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import BudgetScope

DAILY_COLUMNS = (
    "budget_id", "user_id", "name", "day", "spend_usd", "cumulative_usd", "threshold_usd",
    "alert_level_usd",
)  # fmt: skip
EVENT_COLUMNS = (
    "fired_at", "budget_id", "name", "scope", "target", "user_id", "kind", "level_pct", "spend_usd",
    "threshold_usd",
    "notified", "muted",
)  # fmt: skip


def budget_spend_daily(
    url: str | URL | None = None,
    *,
    user_id: uuid.UUID | str | None = None,
    now: datetime | None = None,
    budget_ids: Iterable[uuid.UUID | str] | None = None,
) -> pd.DataFrame:
    """Per active budget (those `user_id` owns, when given; only `budget_ids`, when given), its
    spend per UTC day of the window ending at `now`, the running total, threshold and alert level.

    Budgets this database cannot evaluate (agent and flow budgets of an AgentOS database) have
    no rows: `budget_status` says why.
    """
    engine = get_engine(url)
    caps = capabilities(engine)
    caps.require_budgets()
    now = utc(now)
    viewer = None if user_id is None else parse_uuid(user_id, "user_id")
    condition = active_budgets(caps, viewer)
    if budget_ids is not None:
        ids = [parse_uuid(budget_id, "budget id") for budget_id in budget_ids]
        condition = and_(condition, BUDGETS.c.id.in_(ids))
    dialect = dialect_for(engine.dialect.name)
    records: list[dict[str, Any]] = []
    with read_transaction(engine) as connection:
        plans = SpendPlans(connection)
        for budget in load_budgets(connection, caps, condition):
            if caps.unavailable(budget):
                continue
            window = SpendWindow.ending(now, budget.period_days)
            for each in applied_in(connection, budget, window, viewer, plans):
                if not each.template:  # a per-user budget no user spent on: nothing to chart
                    records += _daily(connection, dialect, each, window, plans(window))
    money = ("spend_usd", "cumulative_usd", "threshold_usd", "alert_level_usd")
    return _frame(records, DAILY_COLUMNS, times=("day",), money=money)


def budget_alert_events(
    url: str | URL | None, window: periods.Window, *, user_id: uuid.UUID | str | None = None
) -> pd.DataFrame:
    """The alert events that fired in `window` (for the budgets `user_id` owns, when given),
    newest first (then exceeded before warning, then by budget name); no rows on a database
    without the kit's budgetalertevents table."""
    engine = get_engine(url)
    caps = capabilities(engine)
    money = ("spend_usd", "threshold_usd")
    if not caps.has_events:
        return _frame([], EVENT_COLUMNS, times=("fired_at",), money=money)
    lower, upper = window.bounds()
    fired, name = EVENTS.c.fired_at, _budget_column(caps, "name")
    query = (
        select(
            fired,
            EVENTS.c.budget_id,
            name,
            BUDGETS.c.scope,
            _budget_column(caps, "target"),
            EVENTS.c.user_id,
            EVENTS.c.kind,
            EVENTS.c.level_pct,
            EVENTS.c.spend_usd,
            EVENTS.c.threshold_usd,
            EVENTS.c.notified,
            EVENTS.c.muted,
        )
        .join_from(EVENTS, BUDGETS, BUDGETS.c.id == EVENTS.c.budget_id)
        .where(fired >= lower, fired < upper)
        .order_by(
            fired.desc(),
            EVENTS.c.kind,
            EVENTS.c.level_pct.desc(),
            name.is_(None),
            name,
            EVENTS.c.budget_id,
        )
    )
    if user_id is not None:
        query = query.where(events_of_user(parse_uuid(user_id, "user_id")))
    with read_transaction(engine) as connection:
        records = [
            {**row, "scope": BudgetScope(row["scope"]).value}
            for row in connection.execute(query).mappings()
        ]
    return _frame(records, EVENT_COLUMNS, times=("fired_at",), money=money)


def _daily(
    connection: Connection,
    dialect: Dialect,
    budget: Budget,
    window: SpendWindow,
    plan: ReadPlan | None,
) -> list[dict[str, Any]]:
    """One record per UTC day the budget's window touches, oldest first."""
    days = periods.Window(window.start, window.end, True, f"{budget.period_days}d")
    level = budget.threshold_usd * budget.levels[0] / 100
    cumulative, records = Decimal(0), []
    for day, day_spend in _day_spends(connection, dialect, budget, window, days, plan):
        cumulative += day_spend
        records.append(
            {
                "budget_id": budget.id,
                "user_id": budget.user_id if budget.per_user else None,
                "name": budget.label if budget.per_user else budget.name,
                "day": day,
                "spend_usd": day_spend,
                "cumulative_usd": cumulative,
                "threshold_usd": budget.threshold_usd,
                "alert_level_usd": level,
            }
        )
    return records


def _day_spends(
    connection: Connection,
    dialect: Dialect,
    budget: Budget,
    window: SpendWindow,
    days: periods.Window,
    plan: ReadPlan | None,
) -> Iterator[tuple[datetime, Decimal]]:
    """(day start, spend) for every day of `days`: from the rollups where they answer the window
    (`plan`; a month of a busy database is millions of executions), else summed per day."""
    spends = rollup_daily_spends(connection, budget, window, plan)
    if spends is not None:
        for start, _, _ in bucket_bounds(days, "day"):
            yield start, spends.get(start, Decimal(0))
        return
    params = counted_params(budget)
    where = [counted(budget.scope, params["agent_id"] is not None)]
    spend = dialect.money_sum(EXECUTIONS.c.cost_usd).label("spend")
    for query in per_bucket(days, "day", [spend], where):
        for row in connection.execute(query, params):
            yield row.bucket, dialect.to_money(row.spend)


def _budget_column(caps: Capabilities, name: str) -> ColumnElement[Any]:
    """A budgetalerts column, or NULL under its name where the database lacks it (AgentOS)."""
    return BUDGETS.c[name] if name in caps.budget_columns else null().label(name)


def _frame(
    records: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    times: Sequence[str],
    money: Sequence[str],
) -> pd.DataFrame:
    """Records as a DataFrame: `times` as aware UTC timestamps, `money` (Decimal) as floats."""
    frame = pd.DataFrame(list(records), columns=list(columns))
    for name in times:
        frame[name] = pd.to_datetime(frame[name], utc=True)
    for name in money:
        frame[name] = frame[name].map(float).astype("float64")
    return frame
