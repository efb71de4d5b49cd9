"""`cost_forecast`: this calendar month's cost, projected from the recent daily rate, with a band.

projected = month-to-date actual + mean daily cost of the lookback x days left in the month;
low/high use the lookback's lowest/highest daily cost instead of the mean. The lookback is the
last 7 complete UTC days by default (whole days, so today's partial day does not drag it down).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Connection, select

from aa_notebooks.analytics.buckets import bucket_bounds, per_bucket
from aa_notebooks.analytics.dialect import quantize_money
from aa_notebooks.analytics.filters import EXECUTIONS, in_scope, in_window
from aa_notebooks.analytics.frames import to_frame
from aa_notebooks.analytics.periods import (
    DEFAULT_PERIOD,
    Window,
    parse_period,
    resolve_window,
)
from aa_notebooks.analytics.results import CostForecast
from aa_notebooks.analytics.rollup_buckets import bucket_sums
from aa_notebooks.analytics.source import Source

_DAY = timedelta(days=1)
_MICROSECONDS_PER_DAY = Decimal(86_400_000_000)


def lookback_window(
    period: str | Window | None,
    start_date: str | date | None,
    end_date: str | date | None,
    now: datetime,
) -> Window:
    """The days whose costs set the rate: the N complete UTC days before today for a period
    of N days (partial days round up; default 7d), or exactly the given dates or Window."""
    if isinstance(period, Window) or start_date is not None or end_date is not None:
        return resolve_window(period, start_date, end_date, now)
    days = -(-parse_period(period or DEFAULT_PERIOD) // _DAY)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return Window(today - days * _DAY, today, False, f"last {days} complete days")


def _raw_costs(
    source: Source, month: Window, lookback: Window, connection: Connection
) -> tuple[Decimal, list[tuple[datetime, Decimal]]]:
    """The month-to-date cost and the lookback's cost per day (0 for a day without any),
    summed raw."""
    c = EXECUTIONS.c
    to_date = select(source.dialect.money_sum(c.cost_usd)).where(
        in_window(month), *in_scope(source.user_id)
    )
    cost = [source.dialect.money_sum(c.cost_usd).label("cost")]
    actual = source.dialect.to_money(connection.execute(to_date).scalar_one())
    daily = [
        (row.bucket, source.dialect.to_money(row.cost))
        for query in per_bucket(lookback, "day", cost, in_scope(source.user_id))
        for row in connection.execute(query)
    ]
    return actual, daily


def _rollup_costs(
    source: Source, month: Window, lookback: Window, connection: Connection
) -> tuple[Decimal, list[tuple[datetime, Decimal]]] | None:
    """`_raw_costs` from the rollups' day sums; None where they hold neither window."""
    to_date = bucket_sums(source, month, "day", connection)
    days = bucket_sums(source, lookback, "day", connection)
    if to_date is None or days is None:
        return None
    actual = sum((pair.cost for pairs in to_date.pairs.values() for pair in pairs), Decimal(0))
    daily = [
        (start, quantize_money(sum((pair.cost for pair in days.pairs.get(start, ())), Decimal(0))))
        for start, _, _ in bucket_bounds(lookback, "day")
    ]
    return quantize_money(actual), daily


def _month(now: datetime) -> tuple[datetime, datetime]:
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start, (start + 32 * _DAY).replace(day=1)


def cost_forecast(
    source: Source, lookback: Window, now: datetime, *, exact: bool = False
) -> CostForecast:
    """Project the current month's cost (UTC) from the daily costs of `lookback`: from the
    rollups where they hold the days (the same sums to the micro-dollar), else, or with
    `exact`, from the raw rows."""
    month_start, month_end = _month(now)
    month = Window(month_start, now, True, "month to date")
    with source.connect() as connection:
        found = None if exact else _rollup_costs(source, month, lookback, connection)
        actual, daily = found or _raw_costs(source, month, lookback, connection)
    costs = [cost for _, cost in daily]
    remaining = Decimal((month_end - now) // timedelta(microseconds=1)) / _MICROSECONDS_PER_DAY
    rate = sum(costs, Decimal(0)) / lookback.days
    method = (
        f"month-to-date actual + mean daily cost over {lookback.label} "
        f"({lookback.start:%Y-%m-%d} to {lookback.end - timedelta(microseconds=1):%Y-%m-%d}) x "
        f"{remaining:.2f} days left in {month_start:%B %Y}; low/high use the lowest/highest "
        "daily cost of those days"
    )
    return CostForecast(
        window=lookback,
        scope=source.scope,
        month_start=month_start,
        month_end=month_end,
        actual_to_date_usd=actual,
        daily_rate_usd=quantize_money(rate),
        remaining_days=remaining.quantize(Decimal("0.000001")),
        projected_usd=quantize_money(actual + rate * remaining),
        low_usd=quantize_money(actual + min(costs) * remaining),
        high_usd=quantize_money(actual + max(costs) * remaining),
        method=method,
        daily=to_frame(
            [{"day": day, "cost_usd": cost} for day, cost in daily],
            ("day", "cost_usd"),
            times=("day",),
            money=("cost_usd",),
        ),
    )
