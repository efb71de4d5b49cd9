"""`cost_timeseries`: executions, cost and tokens per hour or day for each model or agent.

The buckets are `timeseries`' own (one index range each, glued with UNION ALL), each grouped by
the key inside, so a chart of cost over time by model is one query, not one per model. By model,
a second such query reads the usage rows whose model is not their execution's, and each bucket
is split as `cost_summary(by="model")` splits the window (`model_split`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Connection, RowMapping, func

from aa_notebooks.analytics.agent_names import newest_where_renamed
from aa_notebooks.analytics.buckets import bucket_bounds, check_bucket, per_bucket
from aa_notebooks.analytics.choices import COST_TIMESERIES_BY, Bucket, CostSeriesBy, choose
from aa_notebooks.analytics.filters import EXECUTIONS, in_scope, key_groups
from aa_notebooks.analytics.frames import to_frame
from aa_notebooks.analytics.model_split import (
    NOTHING,
    Model,
    MovedUsage,
    Sums,
    favour_index_probes,
    moved_columns,
    moved_rows,
    read_moved,
    split_by_model,
    split_notes,
)
from aa_notebooks.analytics.periods import Window
from aa_notebooks.analytics.results import Table
from aa_notebooks.analytics.rollup_buckets import BucketSums, bucket_sums
from aa_notebooks.analytics.rollup_source import RAW, ROLLUP
from aa_notebooks.analytics.source import Source
from aa_notebooks.formatting import BUCKET_SIZE

_MEASURES = ("executions", "cost_usd", "total_tokens")
COST_COUNTS = ("executions", "input", "output", "tokens")
"""The rollups' counts a bucket's row needs (besides its cost)."""

Row = Mapping[str, Any] | RowMapping
Key = str | tuple[uuid.UUID | None, str | None] | None
"""A model name, or an agent as (agent_id, name when it has no id); None for no model."""
Cell = tuple[datetime, Key]
"""A bucket (its start) and a key."""
Moved = tuple[datetime, MovedUsage]


def _key(by: CostSeriesBy, row: Row) -> Key:
    """The key a row belongs to: its model, or its agent (agent_id where set, else its name)."""
    return row["model"] if by == "model" else (row["agent_id"], row["by_name"])


def _agent_id(key: Key) -> uuid.UUID | None:
    """An agent key's agent_id (None for a model key or an agent known only by name)."""
    return key[0] if isinstance(key, tuple) else None


def _labels(
    by: CostSeriesBy, rows: Sequence[Row], cells: dict[Cell, Sums], newest: dict[uuid.UUID, str]
) -> dict[Key, str | None]:
    """Each key as shown: the model, or the agent's name in the window (`newest` for a renamed
    one, else its only name), else its id.

    None stays None (unknown, as `cost_summary` leaves a missing model): executions without a
    model, or without any agent, are a key of their own.
    """
    if by == "model":
        return {key: cast(Model, key) for _, key in cells}
    names: dict[Key, str | None] = {}
    for row in rows:
        key, name = _key(by, row), row["agent_name"]
        names[key] = newest.get(row["agent_id"]) or max(
            filter(None, (names.get(key), name)), default=None
        )
    return {
        key: name or (None if (agent_id := _agent_id(key)) is None else str(agent_id))
        for key, name in names.items()
    }


def _order(labels: dict[Key, str | None]) -> list[Key]:
    """Keys by label (code point order, None last), then by agent_id for agents alike in name."""

    def sort_key(key: Key) -> tuple[bool, str, bool, str]:
        label, agent_id = labels[key], _agent_id(key)
        return label is None, label or "", agent_id is None, str(agent_id or "")

    return sorted(labels, key=sort_key)


def _sums(source: Source, row: Row) -> Sums:
    """The executions' own sums in one bucket row (cost from the database, or a Decimal)."""
    cost = row["cost"]
    return Sums(
        executions=row["executions"],
        input_tokens=int(row["input_tokens"] or 0),
        output_tokens=int(row["output_tokens"] or 0),
        total_tokens=int(row["total_tokens"] or 0),
        cost=cost if isinstance(cost, Decimal) else source.dialect.to_money(cost),
    )


def _moved(source: Source, window: Window, bucket: Bucket, connection: Connection) -> list[Moved]:
    """Each bucket's usage rows of another model than their execution's (`model_split`)."""
    if not source.has("tokenusages"):
        return []
    favour_index_probes(source, connection)
    keys, measures, groups = moved_columns(source)
    queries = per_bucket(window, bucket, measures, moved_rows(source), keys, groups)
    rows = [r._mapping for query in queries for r in connection.execute(query)]
    return [(row["bucket"], read_moved(source, row)) for row in rows]


def _split(cells: dict[Cell, Sums], moved: list[Moved]) -> dict[Cell, Sums]:
    """The (bucket, model) cells with each bucket split by its moved usage rows."""
    buckets: dict[datetime, dict[Model, Sums]] = {}
    for (start, key), sums in cells.items():
        buckets.setdefault(start, {})[cast(Model, key)] = sums
    moves: dict[datetime, list[MovedUsage]] = {}
    for start, rows in moved:
        moves.setdefault(start, []).append(rows)
    return {
        (start, model): sums
        for start in buckets.keys() | moves.keys()
        for model, sums in split_by_model(buckets.get(start, {}), moves.get(start, [])).items()
    }


def cost_timeseries(
    source: Source, window: Window, bucket: Bucket, by: CostSeriesBy, *, exact: bool = False
) -> Table:
    """Per UTC hour/day bucket of the window and per `by` ("model" or "agent") key.

    Columns: bucket (start, aware UTC), the key (`model` or `agent`: the agent's name, else its
    id), executions, cost_usd and total_tokens. Every key with executions in the window has a row
    in every bucket (zeros where it has none); rows go by bucket, then key (None last). The
    rollups answer where they hold the window, unless `exact`.
    """
    by = choose(by, COST_TIMESERIES_BY, "by")
    starts = [start for start, _, _ in bucket_bounds(window, check_bucket(bucket))]
    with source.connect() as connection:
        split = by == "model"
        rolled = None
        if not exact:
            rolled = bucket_sums(source, window, bucket, connection, moved=split,
                                 counts=COST_COUNTS, by="model" if split else "pair")  # fmt: skip
        if rolled is None:
            rows, moved = _raw_rows(source, window, bucket, by, connection)
        else:
            rows, moved = _rollup_rows(by, rolled)
        names = ((row["agent_id"], row["least_name"], row["agent_name"]) for row in rows)
        newest = (
            {} if split else newest_where_renamed(source, connection, names, window.bounds()[1])
        )
    cells = {(row["bucket"], _key(by, row)): _sums(source, row) for row in rows}
    if by == "model":
        cells = _split(cells, moved)
    labels = _labels(by, rows, cells, newest)
    order = _order(labels)
    records = [
        {
            "bucket": start,
            by: labels[key],
            "executions": (sums := cells.get((start, key), NOTHING)).executions,
            "cost_usd": sums.cost,
            "total_tokens": sums.total_tokens,
        }
        for start in starts
        for key in order
    ]
    frame = to_frame(records, ["bucket", by, *_MEASURES], times=("bucket",), money=("cost_usd",))
    frame.attrs[BUCKET_SIZE] = bucket
    notes = (
        split_notes(source, [(cast(Model, key), sums) for (_, key), sums in cells.items()])
        if by == "model"
        else ()
    )
    return Table(
        f"Cost per {bucket} by {by}", window, source.scope, frame, notes,
        source=RAW if rolled is None else ROLLUP,
    )  # fmt: skip


def _raw_rows(
    source: Source, window: Window, bucket: Bucket, by: CostSeriesBy, connection: Connection
) -> tuple[list[Row], list[Moved]]:
    """Each (bucket, key)'s sums and each bucket's moved usage rows, from the raw rows."""
    c = EXECUTIONS.c
    measures = [
        func.count(c.started_at).label("executions"),
        source.dialect.money_sum(c.cost_usd).label("cost"),
        func.sum(c.input_tokens).label("input_tokens"),
        func.sum(c.output_tokens).label("output_tokens"),
        func.sum(c.total_tokens).label("total_tokens"),
    ]
    keys, groups = key_groups(source.dialect, by)
    queries = per_bucket(window, bucket, measures, in_scope(source), keys, groups)
    rows: list[Row] = [r._mapping for query in queries for r in connection.execute(query)]
    moved = _moved(source, window, bucket, connection) if by == "model" else []
    return rows, moved


def _rollup_rows(by: CostSeriesBy, sums: BucketSums) -> tuple[list[Row], list[Moved]]:
    """The same from the rollups' (agent, model) sums per bucket (money already in USD)."""
    rows: dict[tuple[datetime, Key], dict[str, Any]] = {}
    for start, pairs in sums.pairs.items():
        for pair in pairs:
            key: Key = pair.model if by == "model" else pair.agent
            row = rows.setdefault((start, key), {
                "bucket": start, "model": pair.model, "agent_id": pair.agent_id,
                "by_name": pair.by_name, "agent_name": None, "least_name": None, "executions": 0,
                "cost": Decimal(0), "input_tokens": 0, "output_tokens": 0, "total_tokens": 0,
            })  # fmt: skip
            names = [name for name in (row["agent_name"], pair.agent_name) if name is not None]
            least = [name for name in (row["least_name"], pair.least_name) if name is not None]
            row["agent_name"], row["least_name"] = (
                max(names, default=None),
                min(least, default=None),
            )
            row["executions"] += pair.counts["executions"]
            row["cost"] += pair.cost
            row["input_tokens"] += pair.counts["input"]
            row["output_tokens"] += pair.counts["output"]
            row["total_tokens"] += pair.counts["tokens"]
    moved = [(start, rows) for start, found in sums.moved.items() for rows in found]
    return list(rows.values()), moved
