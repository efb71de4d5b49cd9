"""A window's (agent, model) sums per UTC hour or day bucket, from the rollups where they answer.

Time series, cost over time and the anomaly scan cut a window into hour or day buckets and each
bucket by agent or model. Whole hours and days come from the rollups (a rollup row counts in the
bucket its hour or day starts in), the partial hours at either end and the hours changed behind
the rollups (`rollup_plan`) from the raw rows, one query per piece of a bucket; sums add, so every
count, token and cost is the raw one. Percentiles per bucket come from the raw rows while the
window holds at most EXACT_BUCKET_PERCENTILES_UP_TO executions, else from merged latency
sketches.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any, NamedTuple, TypeVar

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
    SumsBy,
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
from aa_notebooks.db.engine import BINARY_RESULTS
from aa_notebooks.db.rollups.dims import as_uuid
from aa_notebooks.db.rollups.record import micros
from aa_notebooks.db.rollups.sketch import Decoded, key_of, owner_quantiles

EXACT_BUCKET_PERCENTILES_UP_TO = 10_000
"""Executions in a window up to which its percentiles per bucket (and per day and agent or
model) are computed exactly from the raw rows. Each bucket is its own sort of raw durations,
costlier than merging sketches well below the window percentiles' EXACT_PERCENTILES_UP_TO: an
anomaly scan of 100,000 executions took 201 ms raw on SQLite, 45 ms from the rollups."""
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
    by: SumsBy = "pair"
    """How the rollups' part was grouped: "whole" (from the totals where they answer) leaves
    the pairs and quantiles without agent or model, "model" the pairs without agent."""


def sketch_plan(source: Source, window: Window, connection: Connection) -> ReadPlan | None:
    """The rollups' plan for a window whose percentiles per bucket should come from their
    sketches: one holding more than EXACT_BUCKET_PERCENTILES_UP_TO executions (a sum and a
    count tell, before any grouped read); None where the raw rows answer, percentiles exact."""
    plan = read_plan(source, window, connection)
    executions = None if plan is None else window_executions(source, plan, connection)
    if executions is None or executions <= EXACT_BUCKET_PERCENTILES_UP_TO:
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
    by: SumsBy = "pair",
) -> BucketSums | None:
    """The window's sums per `bucket` (by `plan` when the caller has made it): the cost and
    the counts named in `counts` (all by default); None where the rollups hold none of it (read
    raw). `by` groups the rollups' sums (SumsBy): fewer groups, a lighter read."""
    if plan is None:
        plan = read_plan(source, window, connection)
    if plan is None:
        return None
    if bucket == "hour":
        plan = plan.in_hours()
    pairs: dict[datetime, list[Pair]] = {}
    for start, pair in rollup_pairs_by_bucket(source, plan, connection, counts, by=by):
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
        by,
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
    of the latency rollups and raw pieces; `bucket` None merges the whole window per key."""
    cells = read_cells(source, sums.plan, bucket, connection, whole=sums.by == "whole")
    return {
        name: {group: figures.quantile for group, figures in cells.figures(key, fraction).items()}
        for name, key in keys.items()
    }


class Figures(NamedTuple):
    """One (bucket, key) group's executions, successes, cost and latency quantile (a tuple:
    a 90-day anomaly scan makes thousands)."""

    executions: int
    successes: int
    cost: Decimal
    quantile: float | None


def read_cells(
    source: Source,
    plan: ReadPlan,
    bucket: Bucket | None,
    connection: Connection,
    *,
    whole: bool = False,
) -> Cells:
    """The plan's latency rollup rows (with `whole`, the totals where they answer) and the raw
    pieces' executions, each in its (bucket, agent and model) cell, with their sketches decoded
    once: every grouping of them is then array arithmetic (`Cells.figures`), not a read."""
    cells = Cells(bucket)
    tables = whole_spans(source, plan) if whole else latency_spans(plan)
    for table, spans in tables:
        c = table.c
        query = select(
            as_stored(c.bucket), *dimensions(table), c.executions, c.success_executions,
            c.cost_micro_usd, c.latency_sketch,
        ).where(in_spans(c.bucket, spans), *rollup_scope(source, table))  # fmt: skip
        query = query.execution_options(**{BINARY_RESULTS: True})
        cells.add_rollup_rows(connection.execute(query).all())  # fetchall: psycopg's is faster
    c = EXECUTIONS.c
    for start, lower, upper in raw_pieces(plan.raw, bucket or "day"):
        query = select(
            c.agent_id, c.agent_name, c.model_name, c.status, c.cost_usd, c.execution_time_ms
        ).where(_between(lower, upper), *in_scope(source))
        for raw in connection.execute(query).all():
            status = getattr(raw.status, "value", raw.status)
            cells.add_raw(None if bucket is None else start, raw[:3], int(status == "success"),
                          micros(raw.cost_usd), raw.execution_time_ms)  # fmt: skip
    return cells


class Cells:
    """Rollup rows and raw executions by cell, (bucket start, agent and model): each distinct
    start and (agent_id, agent_name, model) kept once, each row as their indexes with its
    executions, successes, cost in micro-USD and latency sketch or duration. Rows are taken
    column by column: a 90-day anomaly scan reads thousands."""

    def __init__(self, bucket: Bucket | None) -> None:
        self.bucket = bucket
        self.start_index: dict[datetime | None, int] = {}
        """Each grouping bucket's index (None: the whole window)."""
        self.starts: dict[Any, int] = {}
        """Each stored bucket value's grouping bucket index."""
        self.combo_index: dict[tuple[Any, ...], int] = {}
        self.columns: tuple[list[int], ...] = ([], [], [], [], [])
        """Per row: start index, combo index, executions, successes, micro-USD."""
        self.blobs: list[bytes | None] = []
        """The rollup rows' sketches, one per row, before any raw row."""
        self.raw_rows: list[int] = []
        self.raw_keys: list[int] = []
        """The raw executions' duration bucket keys, and the row each belongs to."""

    def start_of(self, at: Any) -> int:
        """The index of the grouping bucket a stored bucket value falls in."""
        index = self.starts.get(at)
        if index is None:
            start = None if self.bucket is None else bucket_floor(utc(at), self.bucket)
            index = self.starts[at] = self.index_of(start)
        return index

    def index_of(self, start: datetime | None) -> int:
        """The index of a grouping bucket's start."""
        return self.start_index.setdefault(start, len(self.start_index))

    def combo_of(self, combo: tuple[Any, ...]) -> int:
        """The index of an (agent_id, agent_name, model)."""
        return self.combo_index.setdefault(combo, len(self.combo_index))

    def add_rollup_rows(self, rows: Sequence[Sequence[Any]]) -> None:
        """Rollup rows: (bucket, agent_id, agent_name, model, executions, successes, micro-USD,
        sketch)."""
        if not rows:
            return
        if self.raw_rows:
            raise ValueError("rollup rows come before raw rows")
        at, agent_id, name, model, executions, successes, cost, blobs = zip(*rows, strict=True)
        starts, combos, *sums = self.columns
        starts += [self.start_of(value) for value in at]
        combos += [self.combo_of(combo) for combo in zip(agent_id, name, model, strict=True)]
        for column, values in zip(sums, (executions, successes, cost), strict=True):
            column += values
        self.blobs += blobs

    def add_raw(self, start: datetime | None, combo: Sequence[Any], success: int, cost: int,
                duration: float | None) -> None:  # fmt: skip
        """One raw execution of the bucket starting at `start`."""
        row = len(self.columns[0])
        for column, value in zip(self.columns, (
            self.index_of(start), self.combo_of(tuple(combo)), 1, success, cost,
        ), strict=True):  # fmt: skip
            column.append(value)
        if duration is not None:
            self.raw_rows.append(row)
            self.raw_keys.append(key_of(duration))

    @cached_property
    def table(self) -> np.ndarray:
        """The rows' columns as one int64 array (rows x 5)."""
        return np.array(self.columns, dtype=np.int64).T.reshape(-1, 5)

    @cached_property
    def pairs(self) -> Decoded:
        """Every (bucket key, count) pair of the rows: the rollup rows' sketches decoded, and
        each raw duration with a count of 1; `sketch` holds the row of each. Made once for
        every grouping."""
        decoded = Decoded.of(self.blobs)
        if not self.raw_keys:
            return decoded
        return Decoded(
            np.concatenate([decoded.sketch, np.asarray(self.raw_rows, dtype=np.int64)]),
            np.concatenate([decoded.keys, np.asarray(self.raw_keys, dtype=np.int64)]),
            np.concatenate([decoded.counts, np.ones(len(self.raw_keys), np.int64)]),
        )

    def digest(self) -> bytes:
        """A fingerprint of everything read: bucket starts, agents and models, every row's sums
        and sketch, the raw executions' sketch keys. Cells with the same fingerprint give the
        same figures (the counts of rows, sketches and keys say where each part ends)."""
        hashed = hashlib.sha256()  # the quickest of hashlib where CPUs accelerate SHA
        shape = (self.bucket, len(self.columns[0]), len(self.blobs), len(self.raw_keys))
        hashed.update(repr((shape, list(self.start_index), list(self.combo_index))).encode())
        lengths = [len(blob) if blob else 0 for blob in self.blobs]
        hashed.update(self.table.tobytes())  # the rows' numbers, as `figures` reads them
        for values in (lengths, self.raw_rows, self.raw_keys):
            hashed.update(np.asarray(values, dtype=np.int64).tobytes())
        hashed.update(b"".join([bytes(blob) for blob in self.blobs if blob]))
        return hashed.digest()

    def names(self, key: KeyOf) -> dict[Hashable, str | None]:
        """Each group key's greatest agent name among its rows (None: none named)."""
        found: dict[Hashable, str | None] = {}
        for agent_id, name, model in self.combo_index:
            group = key(as_uuid(agent_id), name, model)
            found[group] = max(filter(None, (found.get(group), name)), default=None)
        return found

    def figures(
        self, key: KeyOf, fraction: float
    ) -> dict[tuple[datetime | None, Hashable], Figures]:
        """Each (start, key(agent_id, agent_name, model)) group's sums (exact integers) and
        `fraction` latency quantile (the sketches merged, the raw durations added)."""
        named: dict[Hashable, int] = {}
        combo_group = np.array(
            [named.setdefault(key(as_uuid(agent_id), name, model), len(named))
             for agent_id, name, model in self.combo_index],
            dtype=np.int64,
        )  # fmt: skip
        rows = self.table
        width = max(1, len(named))
        cell = rows[:, 0] * width + combo_group[rows[:, 1]]
        groups, row_group = np.unique(cell, return_inverse=True)
        row_group = row_group.reshape(-1)
        sums = np.zeros((len(groups), 3), dtype=np.int64)
        np.add.at(sums, row_group, rows[:, 2:])
        pairs = self.pairs
        quantiles = owner_quantiles(
            row_group[pairs.sketch], pairs.keys, pairs.counts, len(groups), (fraction,)
        )
        starts, keys = list(self.start_index), list(named)
        return {
            (starts[group // width], keys[group % width]): Figures(
                executions, successes, Decimal(cost).scaleb(-6), values[0]
            )
            for group, (executions, successes, cost), values in zip(
                groups.tolist(), sums.tolist(), quantiles, strict=True
            )
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
