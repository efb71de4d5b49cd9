"""Hour and day buckets of a window, aggregated one index range per bucket.

Each bucket is its own `SELECT ... WHERE lo <= started_at < hi` (exact bound timestamps, as the
window filter compares them), glued with UNION ALL: every bucket reads one index range and
aggregates it without sorting. At 1M executions this is 3x faster on SQLite than grouping a
join to a table of buckets, which sorts every row of the window; and an empty bucket is still
one row (count 0), so charts get every hour or day. Grouped by a key as well (cost over time by
model), each bucket sorts only its own rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CompoundSelect, literal, select, union_all
from sqlalchemy.sql.elements import ColumnElement

from aa_notebooks.analytics.choices import BUCKETS, Bucket, choose
from aa_notebooks.analytics.filters import EXECUTIONS
from aa_notebooks.analytics.periods import Window
from aa_notebooks.db.schema import UTCDateTime
from aa_notebooks.errors import InvalidInputError

MAX_BUCKETS = 5_000
SELECTS_PER_QUERY = 500  # SQLite's limit on the terms of one compound SELECT
_STEP = {"hour": timedelta(hours=1), "day": timedelta(days=1)}


def check_bucket(bucket: str) -> Bucket:
    """A bucket name from BUCKETS, or an error listing them."""
    return choose(bucket, BUCKETS, "bucket")


def bucket_floor(moment: datetime, bucket: str) -> datetime:
    """The start of the hour or day bucket holding `moment` (UTC)."""
    hour = moment.replace(minute=0, second=0, microsecond=0)
    return hour if bucket == "hour" else hour.replace(hour=0)


def bucket_end(start: datetime, bucket: str) -> datetime:
    """The end of the bucket starting at `start`."""
    return start + _STEP[bucket]


def bucket_bounds(window: Window, bucket: str) -> list[tuple[datetime, datetime, datetime]]:
    """(bucket start, lower, upper) for each UTC hour/day the window touches, clipped to it."""
    lower, upper = window.bounds()
    start, step = bucket_floor(lower, check_bucket(bucket)), _STEP[bucket]
    count = -(-(upper - start) // step)
    if count > MAX_BUCKETS:
        raise InvalidInputError(
            f"{window.label} has {count:,} {bucket} buckets (at most {MAX_BUCKETS:,}); "
            + (
                "use bucket='day' or a shorter period"
                if bucket == "hour"
                else "use a shorter period"
            )
        )
    starts = [start + i * step for i in range(count)]
    return [(s, max(s, lower), min(s + step, upper)) for s in starts]


def per_bucket(
    window: Window,
    bucket: str,
    measures: Sequence[ColumnElement[Any]],
    where: Sequence[ColumnElement[bool]] = (),
    keys: Sequence[ColumnElement[Any]] = (),
    group_by: Sequence[ColumnElement[Any]] = (),
) -> Iterator[CompoundSelect[*tuple[Any, ...]]]:
    """Queries giving `bucket` (its start) and the aggregate `measures` for every bucket, in order.

    With `keys` and `group_by`, each bucket gives one row per group (its `keys`, then the
    measures) and a bucket without executions gives none. One query per SELECTS_PER_QUERY
    buckets (so at most MAX_BUCKETS / SELECTS_PER_QUERY).
    """
    started = EXECUTIONS.c.started_at
    selects = [
        select(literal(start, UTCDateTime()).label("bucket"), *keys, *measures)
        .where(started >= lower, started < upper, *where)
        .group_by(*group_by)
        for start, lower, upper in bucket_bounds(window, bucket)
    ]
    for first in range(0, len(selects), SELECTS_PER_QUERY):
        chunk = selects[first : first + SELECTS_PER_QUERY]
        yield union_all(*chunk).order_by("bucket")
