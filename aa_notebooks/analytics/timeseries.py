"""`timeseries`: executions, success rate, latency and cost per hour or day, for charts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func

from aa_notebooks.analytics.buckets import bucket_bounds, per_bucket
from aa_notebooks.analytics.choices import Bucket
from aa_notebooks.analytics.filters import EXECUTIONS, in_scope, is_success
from aa_notebooks.analytics.frames import ratio, rounded, to_frame
from aa_notebooks.analytics.pairs import totals
from aa_notebooks.analytics.periods import Window
from aa_notebooks.analytics.results import Table
from aa_notebooks.analytics.rollup_buckets import (
    BucketSums,
    bucket_quantiles,
    bucket_sums,
    sketch_plan,
)
from aa_notebooks.analytics.rollup_source import RAW, ROLLUP, sketch_note
from aa_notebooks.analytics.source import Source
from aa_notebooks.formatting import BUCKET_SIZE

TIMESERIES_COLUMNS = (
    "bucket", "executions", "success_rate", "avg_response_time_ms", "p95_ms", "cost_usd",
)  # fmt: skip

SERIES_COUNTS = ("executions", "success", "time_sum", "time_count")
"""The rollups' counts a bucket's figures need (besides its cost)."""


def timeseries(source: Source, window: Window, bucket: Bucket, *, exact: bool = False) -> Table:
    """One row per UTC hour/day bucket of the window (empty buckets included, as 0 executions).

    Columns: bucket (start, aware UTC), executions, success_rate, avg_response_time_ms, p95_ms
    (None for an empty bucket) and cost_usd. The rollups answer where they hold the window and
    it has more executions than exact percentiles are read for; `exact` reads the raw rows.
    """
    with source.connect() as connection:
        plan = None if exact else sketch_plan(source, window, connection)
        sums = None
        if plan is not None:
            sums = bucket_sums(source, window, bucket, connection, plan=plan,
                               counts=SERIES_COUNTS, by="whole")  # fmt: skip
        if sums is None:
            records = _raw_records(source, window, bucket, connection)
            notes: tuple[str, ...] = ()
        else:
            records = _rollup_records(source, window, bucket, sums, connection)
            notes = (sketch_note("P95 per bucket"),)
    frame = to_frame(
        records,
        TIMESERIES_COLUMNS,
        times=("bucket",),
        money=("cost_usd",),
        floats=("success_rate", "avg_response_time_ms", "p95_ms"),
    )
    frame.attrs[BUCKET_SIZE] = bucket
    return Table(
        f"Executions per {bucket}", window, source.scope, frame, notes,
        source=RAW if sums is None else ROLLUP,
    )  # fmt: skip


def _raw_records(
    source: Source, window: Window, bucket: Bucket, connection: Connection
) -> list[dict[str, Any]]:
    """Each bucket's figures from the raw rows (exact percentiles)."""
    c = EXECUTIONS.c
    measures = [
        func.count(c.started_at).label("executions"),
        func.sum(is_success()).label("successes"),
        func.sum(c.execution_time_ms).label("time_sum"),
        func.count(c.execution_time_ms).label("time_count"),
        source.dialect.latency_percentiles(c.execution_time_ms).label("percentiles"),
        source.dialect.money_sum(c.cost_usd).label("cost"),
    ]
    queries = per_bucket(window, bucket, measures, in_scope(source))
    rows = [r._mapping for query in queries for r in connection.execute(query)]
    return [
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


def _rollup_records(
    source: Source, window: Window, bucket: Bucket, sums: BucketSums, connection: Connection
) -> list[dict[str, Any]]:
    """Each bucket's figures from the rollups and raw pieces (P95 from merged sketches)."""
    p95s = bucket_quantiles(source, sums, bucket, connection, lambda *_: None, 0.95)
    records = []
    for start, _, _ in bucket_bounds(window, bucket):
        counts, cost = totals(sums.pairs.get(start, []), SERIES_COUNTS)
        records.append({
            "bucket": start,
            "executions": counts["executions"],
            "success_rate": ratio(counts["success"], counts["executions"], 100),
            "avg_response_time_ms": ratio(counts["time_sum"], counts["time_count"]),
            "p95_ms": rounded(p95s.get((start, None))),
            "cost_usd": cost,
        })  # fmt: skip
    return records
