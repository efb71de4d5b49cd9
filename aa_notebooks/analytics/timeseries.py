"""`timeseries`: executions, success rate, latency and cost per hour or day, for charts."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func
from sqlalchemy.sql.elements import ColumnElement

from aa_notebooks.analytics.buckets import per_bucket
from aa_notebooks.analytics.filters import EXECUTIONS, in_scope, is_success
from aa_notebooks.analytics.frames import ratio, to_frame
from aa_notebooks.analytics.periods import Window
from aa_notebooks.analytics.results import Table
from aa_notebooks.analytics.source import Source

TIMESERIES_COLUMNS = (
    "bucket", "executions", "success_rate", "avg_response_time_ms", "p95_ms", "cost_usd",
)  # fmt: skip


def timeseries(
    source: Source, window: Window, bucket: str, where: Sequence[ColumnElement[bool]] = ()
) -> Table:
    """One row per UTC hour/day bucket of the window (empty buckets included, as 0 executions).

    Columns: bucket (start, aware UTC), executions, success_rate, avg_response_time_ms, p95_ms
    (None for an empty bucket) and cost_usd. `where` narrows the executions (e.g. one agent).
    """
    c = EXECUTIONS.c
    measures = [
        func.count(c.started_at).label("executions"),
        func.sum(is_success()).label("successes"),
        func.sum(c.execution_time_ms).label("time_sum"),
        func.count(c.execution_time_ms).label("time_count"),
        source.dialect.latency_percentiles(c.execution_time_ms).label("percentiles"),
        source.dialect.money_sum(c.cost_usd).label("cost"),
    ]
    queries = per_bucket(window, bucket, measures, [*in_scope(source.user_id), *where])
    with source.connect() as connection:
        rows = [r._mapping for query in queries for r in connection.execute(query)]
    records = [
        {
            "bucket": row["bucket"],
            "executions": row["executions"],
            "success_rate": ratio(row["successes"] or 0, row["executions"], 100),
            "avg_response_time_ms": ratio(row["time_sum"] or 0, row["time_count"]),
            "p95_ms": source.dialect.read_percentiles(row["percentiles"]).p95,
            "cost_usd": source.dialect.to_money(row["cost"]),
        }
        for row in rows
    ]
    frame = to_frame(
        records,
        TIMESERIES_COLUMNS,
        times=("bucket",),
        money=("cost_usd",),
        floats=("success_rate", "avg_response_time_ms", "p95_ms"),
    )
    return Table(f"Executions per {bucket}", window, source.scope, frame)
