"""`cost_forecast`: this calendar month's cost, projected from the recent daily rate, with a band.

projected = month-to-date actual + mean daily cost of the lookback x days left in the month;
low/high use the lowest/highest of the lookback's complete days and the mean instead (a day only
partly gone by, today in a range of dates, counts in the mean alone: so the projection always
lies in the band). The lookback is the last 7 complete UTC days by default (whole days, so
today's partial day does not drag it down). Lookback days before the first execution count as
$0 days, and a note says how many there were.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Connection, func, select

from aa_notebooks.analytics.buckets import bucket_bounds, per_bucket
from aa_notebooks.analytics.dialect import quantize_money
from aa_notebooks.analytics.filters import EXECUTIONS, in_scope
from aa_notebooks.analytics.frames import to_frame
from aa_notebooks.analytics.pairs import totals
from aa_notebooks.analytics.periods import (
    DEFAULT_PERIOD,
    Window,
    parse_period,
    resolve_window,
)
from aa_notebooks.analytics.results import CostForecast
from aa_notebooks.analytics.rollup_buckets import bucket_sums
from aa_notebooks.analytics.rollup_source import window_sums
from aa_notebooks.analytics.source import Source
from aa_notebooks.errors import InvalidInputError
from aa_notebooks.validation import as_utc

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


def _raw_daily(
    source: Source, lookback: Window, connection: Connection
) -> list[tuple[datetime, Decimal]]:
    """The lookback's cost per day (0 for a day without any), summed raw."""
    cost = [source.dialect.money_sum(EXECUTIONS.c.cost_usd).label("cost")]
    return [
        (row.bucket, source.dialect.to_money(row.cost))
        for query in per_bucket(lookback, "day", cost, in_scope(source))
        for row in connection.execute(query)
    ]


def _rollup_daily(
    source: Source, lookback: Window, connection: Connection
) -> list[tuple[datetime, Decimal]] | None:
    """`_raw_daily` from the rollups' day sums; None where they hold none of the lookback."""
    days = bucket_sums(source, lookback, "day", connection)
    if days is None:
        return None
    return [
        (start, quantize_money(totals(days.pairs.get(start, ()))[1]))
        for start, _, _ in bucket_bounds(lookback, "day")
    ]


def month_bounds(now: datetime) -> tuple[datetime, datetime]:
    """The start of `now`'s calendar month and of the next (the forecast's month)."""
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start, (start + 32 * _DAY).replace(day=1)


def cost_forecast(
    source: Source, lookback: Window, now: datetime, *, exact: bool = False
) -> CostForecast:
    """Project the current month's cost (UTC) from the daily costs of `lookback`: from the
    rollups where they hold the days (the same sums to the micro-dollar), else, or with
    `exact`, from the raw rows."""
    last_day = lookback.end - timedelta(microseconds=1)
    if lookback.elapsed_days == 0:
        raise InvalidInputError(
            f"the lookback {lookback.start:%Y-%m-%d} to {last_day:%Y-%m-%d} has not begun: "
            "a daily rate needs days gone by; choose dates up to today"
        )
    month_start, month_end = month_bounds(now)
    month = Window(month_start, now, True, "month to date")
    with source.connect() as connection:
        to_date = window_sums(source, month, connection, moved=False, percentiles=False,
                              exact=exact)  # fmt: skip
        actual = quantize_money(totals(to_date.pairs)[1])
        found = None if exact else _rollup_daily(source, lookback, connection)
        daily = _raw_daily(source, lookback, connection) if found is None else found
        first = connection.execute(
            select(func.min(EXECUTIONS.c.started_at)).where(*in_scope(source))
        ).scalar()
    daily = [(day, cost) for day, cost in daily if day < now]  # a range's days yet to come: none
    costs = [cost for _, cost in daily]
    remaining = Decimal((month_end - now) // timedelta(microseconds=1)) / _MICROSECONDS_PER_DAY
    rate = sum(costs, Decimal(0)) / lookback.elapsed_days  # the days gone by
    # the band: the complete days' costs, widened to the mean rate; a day only partly gone by
    # (today in a range of dates) counts in the mean only, as its first minutes would make
    # any per-day figure of it
    rates = [cost for day, cost in daily if _complete(day, lookback, now)] + [rate]
    method = (
        f"month-to-date actual + mean daily cost over {lookback.label} "
        f"({lookback.start:%Y-%m-%d} to {last_day:%Y-%m-%d}) x "
        f"{remaining:.2f} days left in {month_start:%B %Y}; low/high use the lowest/highest "
        "daily cost of its complete days, or the mean where that is lower/higher"
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
        low_usd=quantize_money(actual + min(rates) * remaining),
        high_usd=quantize_money(actual + max(rates) * remaining),
        method=method,
        note=_before_first(first, [day for day, _ in daily], lookback, source.user_id is not None),
        daily=to_frame(
            [{"day": day, "cost_usd": cost} for day, cost in daily],
            ("day", "cost_usd"),
            times=("day",),
            money=("cost_usd",),
        ),
    )


def _complete(day: datetime, lookback: Window, now: datetime) -> bool:
    """Whether all of `day` (a UTC day's start) is inside the lookback and gone by at `now`."""
    return lookback.start <= day and day + _DAY <= min(lookback.end, now)


def _before_first(
    first: datetime | None, days: list[datetime], lookback: Window, one_user: bool
) -> str | None:
    """What to know when lookback days come before the first execution (a new deployment):
    they count as $0 days and pull the rate down."""
    whose = " for this user" if one_user else ""
    if first is None:
        return f"no executions are recorded yet{whose}: nothing to project from"
    first = as_utc(first)
    before = [day for day in days if day + _DAY <= first]
    if not before:
        return None
    if first >= lookback.end:
        return (
            f"executions{whose} start on {first:%Y-%m-%d}, after the lookback: all its days "
            "are $0 days; choose a lookback that ends later"
        )
    return (
        f"executions{whose} start on {first:%Y-%m-%d}: {len(before)} of the {len(days)} "
        "lookback days come before, as $0 days; for the rate since then, give "
        f"--start-date {first:%Y-%m-%d} (start_date=...)"
    )
