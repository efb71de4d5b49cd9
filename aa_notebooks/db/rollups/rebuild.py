"""Recompute the rollups of a span of days (or of the hours the triggers marked) from raw rows.

For a database whose rows another program writes, run `aa-notebooks rollups rebuild --since`
on a schedule, or install the triggers (`rollups enable`), which mark changed hours so that
readers take them raw until the next rebuild. Exact under concurrent writers: SQLite runs it as
the only writer; on PostgreSQL it locks the rollup tables EXCLUSIVE, so it waits for every writer
that has already added to them and later writers add after it commits (as the spend ledger).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, func, select
from tqdm import tqdm

from aa_notebooks.db.rollups.dims import EXECUTION_DIMS, day_of, utc_naive
from aa_notebooks.db.rollups.format import refuse_newer_format
from aa_notebooks.db.rollups.raw import (
    DAY,
    cache_rows,
    days_between,
    execution_rows,
    usage_rows,
)
from aa_notebooks.db.rollups.record import (
    CACHE_DAY,
    CACHE_HOUR,
    CACHE_SUMS,
    EXECUTION_DAY,
    EXECUTION_HOUR,
    EXECUTION_SUMS,
    EXECUTIONS,
    LATENCY_DAY,
    LATENCY_HOUR,
    LATENCY_SUMS,
    TOTAL_DAY,
    TOTAL_HOUR,
    USAGE_DAY,
    USAGE_HOUR,
    ExecutionSums,
    upsert_all,
    upsert_latency,
    upsert_usage,
)
from aa_notebooks.db.schema import RollupDirtyHour, table_of
from aa_notebooks.db.spend_ledger import ledger_in_use, refill_ledger

DIRTY = table_of(RollupDirtyHour)
ROLLUPS = (
    EXECUTION_HOUR, EXECUTION_DAY, LATENCY_HOUR, LATENCY_DAY, TOTAL_HOUR, TOTAL_DAY, USAGE_HOUR,
    USAGE_DAY, CACHE_HOUR, CACHE_DAY,
)  # fmt: skip


@dataclass(frozen=True)
class RebuildReport:
    """What a rebuild did."""

    days: int
    hour_rows: int
    day_rows: int
    enabled: bool = False
    """Made by `rollups enable`: the tables and the marking triggers are in place."""
    marked_elsewhere: int = 0
    """Of `days`, those outside the asked window, rebuilt for the hours marked in them."""

    def __str__(self) -> str:
        rebuilt = (
            f"rebuilt the rollups of {self.days} day(s): {self.hour_rows:,} hourly and "
            f"{self.day_rows:,} daily rows of executions"
        )
        if self.marked_elsewhere:
            rebuilt += (
                f" ({self.marked_elsewhere} of the days outside the window: they held rows "
                "changed behind the rollups)"
            )
        if not self.enabled:
            return rebuilt
        return (
            "rollups enabled: their tables and the triggers that mark rows written behind the "
            f"kit's back are in place; {rebuilt}"
        )


def lock_rollups(connection: Connection) -> None:
    """On PostgreSQL, hold the rollup tables against other writers until commit, and plan the
    day's queries without JIT: compiling took 0.1-0.8 s per query, longer than most run."""
    if connection.dialect.name == "postgresql":
        names = ", ".join(table.name for table in (*ROLLUPS, DIRTY))
        connection.exec_driver_sql(f"LOCK TABLE {names} IN EXCLUSIVE MODE")
        connection.exec_driver_sql("SET LOCAL jit = off")


_LAST_DAY = datetime(9999, 12, 30)
"""The last day whose end a datetime can hold: a rebuild and a check leave 9999-12-31 (rows of a
"never" sentinel that another program wrote) as it is, rather than stop on it."""


def data_span(connection: Connection) -> tuple[datetime, datetime] | None:
    """The days [first, last + 1) that hold executions or rollup rows; None for none."""
    started = EXECUTIONS.c.started_at
    found = [
        connection.execute(select(func.min(started), func.max(started))).one(),
        connection.execute(
            select(func.min(EXECUTION_DAY.c.bucket), func.max(EXECUTION_DAY.c.bucket))
        ).one(),
    ]
    moments = [utc_naive(m) for pair in found for m in pair if m is not None]
    if not moments:
        return None
    return day_of(min(moments)), min(day_of(max(moments)), _LAST_DAY) + DAY


def days_holding_data(
    connection: Connection, lower: datetime, upper: datetime
) -> list[tuple[datetime, datetime]]:
    """The days [start, start + 1 day) from `lower` (a midnight) up to `upper` that hold
    executions or daily rollup rows, found by jumping to the next one (two indexed reads a day):
    a stray row decades away from the rest does not make a check walk every day between."""
    started, bucket = EXECUTIONS.c.started_at, EXECUTION_DAY.c.bucket
    days = []
    day = lower
    while day < upper:
        found = [
            connection.execute(
                select(func.min(column)).where(column >= day, column < upper)
            ).scalar_one()
            for column in (started, bucket)
        ]
        moments = [utc_naive(moment) for moment in found if moment is not None]
        if not moments:
            break
        day = day_of(min(moments))
        days.append((day, day + DAY))
        day += DAY
    return days


def rebuild_days(
    connection: Connection, days: list[tuple[datetime, datetime]], *, progress: bool = False
) -> RebuildReport:
    """Replace the rollups of these days by what the raw rows give, in the caller's
    transaction (after `lock_rollups`); clears their dirty hours, and so refills the spend
    ledger's hours of those days too (`db.spend_ledger`). `progress` shows a bar of days (a
    10M-execution database takes minutes)."""
    hour_rows = day_rows = 0
    ledger = ledger_in_use(connection)
    for lower, upper in tqdm(days, desc="rollups", unit=" days", disable=not progress):
        for table in ROLLUPS:
            connection.execute(delete(table).where(table.c.bucket >= lower, table.c.bucket < upper))
        connection.execute(delete(DIRTY).where(DIRTY.c.hour >= lower, DIRTY.c.hour < upper))
        if ledger:
            refill_ledger(connection, lower, upper)
        hourly = execution_rows(connection, lower, upper)
        usage, cache = usage_rows(connection, lower, upper), cache_rows(connection, lower, upper)
        added_hours, added_days = upsert_all(connection, hourly, usage, cache)
        hour_rows += added_hours
        day_rows += added_days
    return RebuildReport(len(days), hour_rows, day_rows)


def rebuild_rollups(
    engine: Engine,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    progress: bool = False,
) -> RebuildReport:
    """Recompute the rollups of the whole days from `since` to `until` (default: all data)."""
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        return rebuild_in(connection, since, until, progress=progress)


def rebuild_in(
    connection: Connection,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    progress: bool = False,
) -> RebuildReport:
    """`rebuild_rollups` in the caller's transaction; the days outside the window that hold
    hours the triggers marked are rebuilt too: a scheduled rebuild of recent days would leave
    a late row's hour of last month marked, and read raw, for ever."""
    refuse_newer_format(connection)
    lock_rollups(connection)
    span = data_span(connection)
    if span is None:
        connection.execute(delete(DIRTY))
        if ledger_in_use(connection):
            refill_ledger(connection)
        return RebuildReport(0, 0, 0)
    lower = span[0] if since is None else max(day_of(utc_naive(since)), span[0])
    upper = span[1] if until is None else min(day_of(utc_naive(until) - timedelta.resolution)
                                               + DAY, span[1])  # fmt: skip
    days = days_holding_data(connection, lower, upper)
    hours = connection.execute(select(DIRTY.c.hour)).scalars()
    marked = {day_of(utc_naive(hour)) for hour in hours}
    elsewhere = {day for day in marked if day <= _LAST_DAY} - {day for day, _ in days}
    days = sorted([*days, *((day, day + DAY) for day in elsewhere)])
    report = rebuild_days(connection, days, progress=progress)
    outside = sum(1 for day in elsewhere if not lower <= day < upper)
    return replace(report, marked_elsewhere=outside)


def fill_cache_rollups(connection: Connection) -> None:
    """Fill the cache tokens rollup alone from the raw rows (added to a database whose other
    rollups are current), day by day, in the caller's transaction."""
    lock_rollups(connection)
    span = data_span(connection)
    if span is None:
        return
    for lower, upper in days_between(*span):
        hourly = cache_rows(connection, lower, upper)
        upsert_usage(connection, CACHE_HOUR, hourly.rows(), CACHE_SUMS)
        upsert_usage(connection, CACHE_DAY, hourly.days().rows(), CACHE_SUMS)


def fill_latency_sums(connection: Connection) -> None:
    """Fill the latency rollups' sums (columns added to a database whose rollups are current)
    from the execution rollups, day by day, in the caller's transaction: every row's sums are
    set to zero, then each (user, agent, model)'s are added with an empty sketch."""
    lock_rollups(connection)
    for table in (LATENCY_HOUR, LATENCY_DAY):
        connection.execute(table.update().values(dict.fromkeys(LATENCY_SUMS, 0)))
    _add_from_execution_rollups(
        connection, (LATENCY_HOUR, LATENCY_DAY), ExecutionSums.latency_rows, sketches=False
    )


def fill_total_rollups(connection: Connection) -> None:
    """Fill the total rollups alone (added to a database whose other rollups are current) from
    the execution rollups, day by day, in the caller's transaction; rows already there are
    replaced, so it can run again."""
    lock_rollups(connection)
    for table in (TOTAL_HOUR, TOTAL_DAY):
        connection.execute(delete(table))
    _add_from_execution_rollups(
        connection, (TOTAL_HOUR, TOTAL_DAY), ExecutionSums.total_rows, sketches=True
    )


def _add_from_execution_rollups(
    connection: Connection,
    targets: tuple[Table, Table],
    rows: Callable[[ExecutionSums], list[dict[str, Any]]],
    *,
    sketches: bool,
) -> None:
    """Upsert into the (hourly, daily) `targets` what `rows` makes of the execution rollups'
    stored sums (with their sketches when `sketches`), day by day."""
    span = data_span(connection)
    if span is None:
        return
    for lower, upper in days_between(*span):
        for source, target in zip((EXECUTION_HOUR, EXECUTION_DAY), targets, strict=True):
            stored = stored_sums(connection, source, lower, upper, sketches=sketches)
            upsert_latency(connection, target, rows(stored))


def stored_sums(
    connection: Connection,
    table: Table,
    lower: datetime,
    upper: datetime,
    *,
    sketches: bool = False,
) -> ExecutionSums:
    """An execution rollup's stored sums of [lower, upper), with their sketches when
    `sketches`."""
    c = table.c
    found = ExecutionSums()
    blob = [c.latency_sketch] if sketches else []
    query = select(c.bucket, *(c[name] for name in EXECUTION_DIMS),
                   *(c[name] for name in EXECUTION_SUMS), *blob).where(
        c.bucket >= lower, c.bucket < upper
    )  # fmt: skip
    width = 7 + len(EXECUTION_SUMS)
    for row in connection.execute(query):
        bucket, dims = utc_naive(row[0]), tuple(row[1:7])
        found.add(bucket, dims, [int(v) for v in row[7:width]], None)
        if sketches:
            found.merge_sketch(bucket, dims, row[width])
    return found
