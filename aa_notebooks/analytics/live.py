"""Live mode's reads: a window's numbers kept current by folding in executions as they complete.

`LiveView.open` reads the window once: its (agent, model) sums (`window_sums`, rollups where
they answer), its latency sketch per chart bucket (one GROUP BY sketch key per bucket, computed
in SQL with the same formula as `sketch.key_of`) and a high-water mark (`follow`). Each `tick`
reads only the executions completed since the mark (the (completed_at, id) index, over a small
overlap, each id counted once) and adds them: counts, tokens, cost and latency sums exactly, the
percentiles through the merged sketch (within `RELATIVE_ACCURACY`, 1%). On PostgreSQL the mark
and the sums are read in one REPEATABLE READ transaction, so no execution is counted twice or
missed between them.

The window's start does not move while live; for a period (24h, 7d...) executions started after
its end are added (the view extends to now), for fixed dates they are not.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Float, Integer, case, cast, func, literal, text
from sqlalchemy.sql.elements import ColumnElement

from aa_notebooks.analytics.buckets import per_bucket
from aa_notebooks.analytics.choices import Bucket
from aa_notebooks.analytics.dialect import PERCENTILE_FRACTIONS, Percentiles
from aa_notebooks.analytics.filters import EXECUTIONS, STATUSES, in_scope, is_success
from aa_notebooks.analytics.follow import FollowFilters, FollowMark, read_completed_since
from aa_notebooks.analytics.frames import ratio, rounded
from aa_notebooks.analytics.model_split import MovedUsage, execution_sums, split_by_model
from aa_notebooks.analytics.overview import overview_from
from aa_notebooks.analytics.pairs import COUNTS, Pair
from aa_notebooks.analytics.periods import Window
from aa_notebooks.analytics.results import Overview
from aa_notebooks.analytics.rollup_source import WindowSums, merge_pairs, window_sums
from aa_notebooks.analytics.source import Source
from aa_notebooks.db.driver import driver_connection
from aa_notebooks.db.engine import connection_errors
from aa_notebooks.db.rollups.sketch import KEY_MULTIPLIER, RELATIVE_ACCURACY, ZERO_KEY, Sketch
from aa_notebooks.db.rollups.sketch import key_of as sketch_key

_SQLITE_KEY = "aa_sketch_key"
"""A Python stand-in for `ceil(ln(x) * K)`, registered where SQLite lacks math functions."""


@dataclass
class BucketSums:
    """One chart bucket's additive sums and latency sketch."""

    executions: int = 0
    successes: int = 0
    time_sum: int = 0
    time_count: int = 0
    cost: Decimal = Decimal(0)
    sketch: Sketch = field(default_factory=Sketch)

    def add(self, row: dict[str, Any]) -> None:
        """Count one execution row (as `tick` reads it)."""
        self.executions += 1
        self.successes += row["status"] == "success"
        if row["execution_time_ms"] is not None:
            self.time_sum += row["execution_time_ms"]
            self.time_count += 1
            self.sketch.add_key(sketch_key(row["execution_time_ms"]))
        self.cost += row["cost_usd"]

    def record(self, start: datetime) -> dict[str, Any]:
        """The bucket as a row of `timeseries` (its P95 from the sketch)."""
        return {
            "bucket": start,
            "executions": self.executions,
            "success_rate": ratio(self.successes, self.executions, 100),
            "avg_response_time_ms": ratio(self.time_sum, self.time_count),
            "p95_ms": _quantile(self.sketch, 0.95),
            "cost_usd": self.cost,
        }


@dataclass
class Tick:
    """What one tick found: the new executions (oldest first) and the buckets they touched."""

    rows: list[dict[str, Any]]
    buckets: list[datetime]

    @property
    def ids(self) -> list[str]:
        """The new executions' ids, newest first."""
        return [str(row["id"]) for row in reversed(self.rows)]


@dataclass
class LiveView:
    """The numbers of a window, made current by `tick` (read-only: it never writes)."""

    source: Source
    window: Window
    bucket: Bucket
    pairs: list[Pair]
    moved: list[MovedUsage]
    buckets: dict[datetime, BucketSums]
    sketch: Sketch
    mark: FollowMark
    kind: str
    """Where the sums came from: "raw" or "rollup" (as `Overview.source`)."""
    added: int = 0
    """Executions added by ticks since `open`."""

    @classmethod
    def open(cls, source: Source, window: Window, bucket: Bucket, now: datetime) -> LiveView:
        """Read `window`'s sums, bucket sketches and the mark (executions completed up to now)."""
        with _consistent(source) as connection:
            _, mark = read_completed_since(
                connection, FollowMark(now), _filters(source, window), _columns(source)
            )
            sums = window_sums(source, window, connection, percentiles=False)
            buckets = _bucket_sums(source, window, bucket, connection)
        sketch = Sketch()
        for sums_of_bucket in buckets.values():
            sketch.merge(sums_of_bucket.sketch)
        return cls(
            source, window, bucket, sums.pairs, sums.moved, buckets, sketch, mark, sums.source
        )

    def tick(self) -> Tick:
        """Add the executions completed since the last tick (each once); return them."""
        with self.source.connect() as connection:
            rows, self.mark = read_completed_since(
                connection, self.mark, _filters(self.source, self.window), _columns(self.source)
            )
        touched: dict[datetime, None] = {}
        for row in rows:
            row["status"] = getattr(row["status"], "value", row["status"])
            row["cost_usd"] = self.source.dialect.to_money(row["cost_usd"])
            start = _floor(row["started_at"], self.bucket)
            self.buckets.setdefault(start, BucketSums()).add(row)
            if row["execution_time_ms"] is not None:
                self.sketch.add_key(sketch_key(row["execution_time_ms"]))
            touched[start] = None
        self.pairs = merge_pairs([*self.pairs, *(_pair(row) for row in rows)])
        self.added += len(rows)
        return Tick(rows, sorted(touched))

    def overview(self) -> Overview:
        """The window's overview with every execution added so far (percentiles from the sketch,
        within 1%); models moved by usage rows are those of the last full read."""
        percentiles = Percentiles(*(_quantile(self.sketch, f) for f in PERCENTILE_FRACTIONS))
        sums = WindowSums(self.pairs, self.moved, percentiles, self.kind, RELATIVE_ACCURACY)
        models = split_by_model(execution_sums(self.pairs), self.moved)
        return overview_from(self.source, self.window, sums, models)

    def activity(self, frame: pd.DataFrame, buckets: Iterable[datetime]) -> pd.DataFrame:
        """`frame` (a `timeseries` result) with `buckets` replaced by their current sums."""
        return _with_buckets(frame, {start: self.buckets[start].record(start) for start in buckets})

    def costs_over_time(self, frame: pd.DataFrame, tick: Tick) -> pd.DataFrame:
        """`frame` (a `cost_timeseries(by="model")` result) with the tick's executions added to
        their bucket and model (all of a run's cost under its own model until the next full
        read splits its usage rows)."""
        frame = frame.copy()
        for row in tick.rows:
            start = pd.Timestamp(_floor(row["started_at"], self.bucket))
            model = row["model_name"]
            same_model = frame["model"].isna() if model is None else frame["model"] == model
            where = (frame["bucket"] == start) & same_model
            if where.any():
                index = frame.index[where][0]
                frame.at[index, "executions"] += 1
                frame.at[index, "cost_usd"] = _money_like(frame.at[index, "cost_usd"], row)
                frame.at[index, "total_tokens"] = (frame.at[index, "total_tokens"] or 0) + (
                    row["total_tokens"] or 0
                )
                continue
            added = {
                "bucket": start,
                "model": model,
                "executions": 1,
                "cost_usd": row["cost_usd"],
                "total_tokens": row["total_tokens"] or 0,
            }
            extra = pd.DataFrame([added]).astype(frame.dtypes.to_dict(), errors="ignore")
            frame = pd.concat([frame, extra], ignore_index=True)
        return frame.sort_values(["bucket"], kind="stable").reset_index(drop=True)

    @property
    def extended(self) -> Window:
        """The window as the ticks read it: a period runs on to the newest execution added."""
        if not self.window.end_inclusive:
            return self.window
        end = max(self.window.end, self.mark.completed_at)
        return replace(self.window, end=end)


@contextmanager
def _consistent(source: Source) -> Iterator[Connection]:
    """A read-only connection whose reads share one snapshot where the database offers it
    (PostgreSQL: REPEATABLE READ); SQLite reads statement by statement."""
    with connection_errors(source.engine.url), source.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execution_options(isolation_level="REPEATABLE READ")
        source.dialect.prepare(connection)
        yield connection


def _money_like(shown: Any, row: dict[str, Any]) -> Any:
    """A frame's cost plus the row's, in the frame's own type (float or Decimal)."""
    if isinstance(shown, Decimal):
        return shown + row["cost_usd"]
    return float(shown) + float(row["cost_usd"])


def _filters(source: Source, window: Window) -> FollowFilters:
    lower, upper = window.bounds()
    fixed = not window.end_inclusive  # dates: nothing started after the end is added
    return FollowFilters(user_id=source.whole("the live view").user_id, started_from=lower,
                         started_before=upper if fixed else None)  # fmt: skip


def _columns(source: Source) -> list[ColumnElement[Any]]:
    c = EXECUTIONS.c
    return [
        c.id, c.completed_at, c.started_at, c.agent_id, c.agent_name, c.model_name, c.status,
        c.execution_time_ms, c.input_tokens, c.output_tokens, c.total_tokens,
        source.dialect.money(c.cost_usd).label("cost_usd"), c.query_preview,
    ]  # fmt: skip


def _pair(row: dict[str, Any]) -> Pair:
    """One execution as (agent, model) sums, grouped as `pairs.load_pairs_where` groups."""
    agent_id = row["agent_id"]
    if agent_id is not None and not isinstance(agent_id, uuid.UUID):
        agent_id = uuid.UUID(str(agent_id))
    timed = row["execution_time_ms"] is not None
    counts = dict.fromkeys(COUNTS, 0)
    counts.update(
        executions=1,
        time_sum=row["execution_time_ms"] or 0,
        time_count=int(timed),
        input=row["input_tokens"] or 0,
        output=row["output_tokens"] or 0,
        tokens=row["total_tokens"] or 0,
    )
    counts[row["status"]] += 1 if row["status"] in STATUSES else 0
    return Pair(
        agent_id=agent_id,
        by_name=row["agent_name"] if agent_id is None else None,
        agent_name=row["agent_name"],
        least_name=row["agent_name"],
        model=row["model_name"],
        counts=counts,
        cost=row["cost_usd"],
    )


def _floor(moment: datetime, bucket: str) -> datetime:
    hour = moment.replace(minute=0, second=0, microsecond=0)
    return hour if bucket == "hour" else hour.replace(hour=0)


def _utc(moment: datetime | str) -> datetime:
    """A bucket start as read back from SQL, as an aware UTC datetime."""
    stamp = pd.Timestamp(moment)
    utc = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    moment_utc: datetime = utc.to_pydatetime()
    return moment_utc


def _quantile(sketch: Sketch, fraction: float) -> float | None:
    value = sketch.quantile(fraction)
    return None if value is None else rounded(value)


def _key_sql(connection: Connection) -> ColumnElement[Any]:
    """The sketch key of execution_time_ms in SQL: ceil(ln(x) * K) (NULL stays NULL)."""
    column = EXECUTIONS.c.execution_time_ms
    if connection.dialect.name == "sqlite" and not _sqlite_has_ln(connection):
        driver_connection(connection).create_function(_SQLITE_KEY, 1, _python_key,
                                                      deterministic=True)  # fmt: skip
        python_key: ColumnElement[Any] = getattr(func, _SQLITE_KEY)(column)
        return python_key
    scaled = func.ln(cast(column, Float)) * literal(KEY_MULTIPLIER, Float)
    return case(
        (column.is_(None), None),
        (column <= 0, ZERO_KEY),
        else_=cast(func.ceil(scaled), Integer),
    )


def _python_key(value: float | str | None) -> int | None:
    """The sketch key of a duration; none for NULL or text another program left there."""
    return sketch_key(value) if isinstance(value, int | float) else None


def _sqlite_has_ln(connection: Connection) -> bool:
    try:
        connection.execute(text("SELECT ln(2.0)"))
    except Exception:  # an SQLite built without math functions: "no such function"
        return False
    return True


def _bucket_sums(
    source: Source, window: Window, bucket: Bucket, connection: Connection
) -> dict[datetime, BucketSums]:
    """Each bucket's sums and sketch: one index range per bucket, grouped by sketch key."""
    c = EXECUTIONS.c
    key = _key_sql(connection).label("sketch_key")
    measures = [
        func.count().label("executions"),
        func.sum(is_success()).label("successes"),
        func.sum(c.execution_time_ms).label("time_sum"),
        func.count(c.execution_time_ms).label("time_count"),
        source.dialect.money_sum(c.cost_usd).label("cost"),
    ]
    found: dict[datetime, BucketSums] = {}
    scope = in_scope(source)
    for query in per_bucket(window, bucket, measures, scope, keys=[key], group_by=[key]):
        for row in connection.execute(query):
            sums = found.setdefault(_utc(row.bucket), BucketSums())
            sums.executions += row.executions
            sums.successes += int(row.successes or 0)
            sums.time_sum += int(row.time_sum or 0)
            sums.time_count += row.time_count
            sums.cost += source.dialect.to_money(row.cost)
            if row.sketch_key is not None:
                sums.sketch.add_key(int(row.sketch_key), row.time_count)
    return found


def _with_buckets(frame: pd.DataFrame, records: dict[datetime, dict[str, Any]]) -> pd.DataFrame:
    """`frame` with the rows of `records`' buckets replaced (or appended, in bucket order)."""
    if not records:
        return frame
    stamps = {pd.Timestamp(start) for start in records}
    kept = frame[~frame["bucket"].isin(stamps)]
    added = pd.DataFrame([{**r, "bucket": pd.Timestamp(r["bucket"])} for r in records.values()])
    merged = pd.concat([kept, added.astype(kept.dtypes.to_dict(), errors="ignore")])
    return merged.sort_values("bucket", kind="stable").reset_index(drop=True)
