"""A window's (agent, model) sums per UTC hour or day bucket, from the rollups where they answer.

Time series, cost over time and the anomaly scan cut a window into hour or day buckets and each
bucket by agent or model. Whole hours and days come from the rollups (a rollup row counts in the
bucket its hour or day starts in), the partial hours at either end and the hours changed behind
the rollups (`rollup_plan`) from the raw rows, one query per piece of a bucket; sums add, so every
count, token and cost is the raw one. Percentiles per bucket come from the raw rows while the
window holds at most EXACT_PERCENTILES_UP_TO executions, else from merged latency sketches.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import Connection, and_, select
from sqlalchemy.sql.elements import ColumnElement

from aa_notebooks.analytics.buckets import bucket_end, bucket_floor
from aa_notebooks.analytics.choices import Bucket
from aa_notebooks.analytics.filters import EXECUTIONS, in_scope
from aa_notebooks.analytics.model_split import MovedUsage, load_moved_where
from aa_notebooks.analytics.pairs import COUNTS, Pair, load_pairs_where
from aa_notebooks.analytics.periods import Window
from aa_notebooks.analytics.rollup_plan import ReadPlan, Span
from aa_notebooks.analytics.rollup_source import (
    EXACT_PERCENTILES_UP_TO,
    as_stored,
    dimensions,
    in_spans,
    latency_spans,
    merge_moved,
    merge_pairs,
    read_plan,
    rollup_moved_by_bucket,
    rollup_pairs_by_bucket,
    rollup_scope,
    utc,
    whole_spans,
    window_executions,
)
from aa_notebooks.analytics.source import Source
from aa_notebooks.db.rollups.dims import as_uuid
from aa_notebooks.db.rollups.sketch import Decoded, key_of, owner_quantiles

Piece = tuple[datetime, datetime, datetime]
"""(bucket start, lower, upper): the part of a raw span inside one bucket."""
KeyOf = Callable[[Any, Any, Any], Hashable]
"""A group key from (agent_id, agent_name, model_name) of a rollup or raw row."""
Grouping = TypeVar("Grouping", bound=Hashable)
"""The name of one of several groupings (`bucket_quantiles_by`)."""


@dataclass(frozen=True)
class BucketSums:
    """A window's sums per bucket start, and the plan they were read by."""

    plan: ReadPlan
    pairs: dict[datetime, list[Pair]]
    """Each bucket's (agent, model) sums (buckets without executions left out)."""
    moved: dict[datetime, list[MovedUsage]]
    """Each bucket's usage rows of another model than their execution's (when asked for)."""
    whole: bool = False
    """Whether the rollups' part came from the totals where they answer (`whole_spans`): the
    pairs and quantiles then have no agent or model."""


def sketch_plan(source: Source, window: Window, connection: Connection) -> ReadPlan | None:
    """The rollups' plan for a window whose percentiles per bucket should come from their
    sketches: one holding more than EXACT_PERCENTILES_UP_TO executions (a sum and a count tell,
    before any grouped read); None where the raw rows answer, percentiles exact."""
    plan = read_plan(source, window, connection)
    if plan is None or window_executions(source, plan, connection) <= EXACT_PERCENTILES_UP_TO:
        return None
    return plan


def bucket_sums(
    source: Source,
    window: Window,
    bucket: Bucket,
    connection: Connection,
    *,
    moved: bool = False,
    plan: ReadPlan | None = None,
    counts: Sequence[str] = COUNTS,
    whole: bool = False,
) -> BucketSums | None:
    """The window's sums per `bucket` (by `plan` when the caller has made it): the cost and
    the counts named in `counts` (all by default); None where the rollups hold none of it (read
    raw). `whole`: for figures of each bucket as a whole, read the totals where they answer."""
    if plan is None:
        plan = read_plan(source, window, connection)
    if plan is None:
        return None
    if bucket == "hour":
        plan = plan.in_hours()
    pairs: dict[datetime, list[Pair]] = {}
    for start, pair in rollup_pairs_by_bucket(source, plan, connection, counts, whole=whole):
        pairs.setdefault(bucket_floor(start, bucket), []).append(pair)
    for start, lower, upper in raw_pieces(plan.raw, bucket):
        found_raw = load_pairs_where(source, _between(lower, upper), connection)
        pairs.setdefault(start, []).extend(found_raw)
    found: dict[datetime, list[MovedUsage]] = {}
    if moved:
        for start, rows in rollup_moved_by_bucket(source, plan, connection):
            found.setdefault(bucket_floor(start, bucket), []).append(rows)
        for start, lower, upper in raw_pieces(plan.raw, bucket):
            found.setdefault(start, []).extend(
                load_moved_where(source, _between(lower, upper), connection)
            )
    return BucketSums(
        plan,
        {start: merge_pairs(group) for start, group in pairs.items()},
        {start: merge_moved(group) for start, group in found.items()},
        whole,
    )


def bucket_quantiles(
    source: Source,
    sums: BucketSums,
    bucket: Bucket,
    connection: Connection,
    key: KeyOf,
    fraction: float,
) -> dict[tuple[datetime | None, Hashable], float | None]:
    """The `fraction` latency quantile of each (bucket, key(agent_id, agent_name, model))
    group: the latency rollups' sketches merged, and the raw pieces' durations added."""
    return bucket_quantiles_by(source, sums, bucket, connection, {None: key}, fraction)[None]


def bucket_quantiles_by(
    source: Source,
    sums: BucketSums,
    bucket: Bucket | None,
    connection: Connection,
    keys: Mapping[Grouping, KeyOf],
    fraction: float,
) -> dict[Grouping, dict[tuple[datetime | None, Hashable], float | None]]:
    """`bucket_quantiles` for several groupings at once (by agent and by model), from one read
    of the latency rollups and raw pieces; `bucket` None merges the whole window per key.

    Each row is indexed by its bucket and its (agent, model) once and the sketches are decoded
    once: a grouping then maps the few (agent, model) combinations to its keys, and counts
    every bucket key into its groups with array arithmetic, not row by row."""
    cells = _Cells(bucket)
    blobs: list[bytes | None] = []
    tables = whole_spans(source, sums.plan) if sums.whole else latency_spans(sums.plan)
    for table, spans in tables:
        c = table.c
        query = select(as_stored(c.bucket), *dimensions(table), c.latency_sketch).where(
            in_spans(c.bucket, spans), *rollup_scope(source, table)
        )
        for row in connection.execute(query):
            cells.add(cells.start_of(row[0]), row[1], row[2], row[3])
            blobs.append(row[4])
    decoded = Decoded.of(blobs)
    raw_keys: list[int] = []
    c = EXECUTIONS.c
    for start, lower, upper in raw_pieces(sums.plan.raw, bucket or "day"):
        query = select(c.agent_id, c.agent_name, c.model_name, c.execution_time_ms).where(
            _between(lower, upper), c.execution_time_ms.is_not(None), *in_scope(source)
        )
        for raw in connection.execute(query):
            cells.add(None if bucket is None else start, raw.agent_id, raw.agent_name,
                      raw.model_name)  # fmt: skip
            raw_keys.append(key_of(raw.execution_time_ms))
    pair_cell = np.concatenate([decoded.sketch, np.arange(len(blobs), len(cells.rows))])
    bucket_keys = np.concatenate([decoded.keys, np.asarray(raw_keys, dtype=np.int64)])
    counts = np.concatenate([decoded.counts, np.ones(len(raw_keys), np.int64)])
    return {name: cells.quantiles(key, pair_cell, bucket_keys, counts, fraction)
            for name, key in keys.items()}  # fmt: skip


class _Cells:
    """Rollup rows and raw durations by cell, (bucket start, agent and model): each distinct
    start and (agent_id, agent_name, model) kept once, each row as a pair of their indexes."""

    def __init__(self, bucket: Bucket | None) -> None:
        self.bucket = bucket
        self.starts: dict[Any, datetime | None] = {}
        """Each stored bucket value's grouping bucket (None: the whole window)."""
        self.start_index: dict[datetime | None, int] = {}
        self.combo_index: dict[tuple[Any, Any, Any], int] = {}
        self.rows: list[tuple[int, int]] = []

    def start_of(self, at: Any) -> datetime | None:
        """The grouping bucket a rollup row's stored bucket value falls in."""
        if at not in self.starts:
            self.starts[at] = None if self.bucket is None else bucket_floor(utc(at), self.bucket)
        return self.starts[at]

    def add(self, start: datetime | None, agent_id: Any, agent_name: Any, model: Any) -> None:
        """One more row, in the cell of (start, its agent and model)."""
        start_at = self.start_index.setdefault(start, len(self.start_index))
        combo = self.combo_index.setdefault((agent_id, agent_name, model), len(self.combo_index))
        self.rows.append((start_at, combo))

    def quantiles(
        self,
        key: KeyOf,
        pair_cell: np.ndarray,
        bucket_keys: np.ndarray,
        counts: np.ndarray,
        fraction: float,
    ) -> dict[tuple[datetime | None, Hashable], float | None]:
        """The `fraction` quantile of each (start, key(agent_id, agent_name, model)) group of
        (bucket key, count) pairs, each pair from the row `pair_cell` names."""
        named: dict[Hashable, int] = {}
        combo_group = np.array(
            [named.setdefault(key(as_uuid(agent_id), name, model), len(named))
             for agent_id, name, model in self.combo_index],
            dtype=np.int64,
        )  # fmt: skip
        rows = np.asarray(self.rows, dtype=np.int64).reshape(-1, 2)
        width = max(1, len(named))
        cell = rows[:, 0] * width + combo_group[rows[:, 1]]
        groups, row_group = np.unique(cell, return_inverse=True)
        found = owner_quantiles(
            row_group.reshape(-1)[pair_cell], bucket_keys, counts, len(groups), (fraction,)
        )
        starts, keys = list(self.start_index), list(named)
        return {
            (starts[group // width], keys[group % width]): values[0]
            for group, values in zip(groups.tolist(), found, strict=True)
        }


def raw_pieces(spans: list[Span], bucket: Bucket) -> Iterator[Piece]:
    """The raw spans cut at the buckets' edges, each piece with the start of its bucket."""
    for lower, upper in spans:
        while lower < upper:
            start = bucket_floor(lower, bucket)
            end = min(upper, bucket_end(start, bucket))
            yield start, lower, end
            lower = end


def _between(lower: datetime, upper: datetime) -> ColumnElement[bool]:
    started = EXECUTIONS.c.started_at
    return and_(started >= lower, started < upper)
