"""`cost_timeseries`: executions, cost and tokens per hour or day for each model or agent.

The buckets are `timeseries`' own (one index range each, glued with UNION ALL), each grouped by
the key inside, so a chart of cost over time by model is one query, not one per model.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.sql.elements import ColumnElement

from aa_notebooks.analytics.buckets import bucket_bounds, check_bucket, per_bucket
from aa_notebooks.analytics.filters import EXECUTIONS, agent_groups, in_scope
from aa_notebooks.analytics.frames import to_frame
from aa_notebooks.analytics.overview import unpriced_models
from aa_notebooks.analytics.periods import Window
from aa_notebooks.analytics.results import Table
from aa_notebooks.analytics.source import Source
from aa_notebooks.errors import InvalidInputError

COST_TIMESERIES_BY = ("model", "agent")
_MEASURES = ("executions", "cost_usd", "total_tokens")

Row = Mapping[str, Any]
Key = str | tuple[uuid.UUID | None, str | None] | None
"""A model name, or an agent as (agent_id, name when it has no id); None for no model."""


def _grouping(source: Source, by: str) -> tuple[list[ColumnElement[Any]], list[ColumnElement[Any]]]:
    """The key columns each bucket selects, and its GROUP BY (agents as `cost_summary` has them)."""
    c = EXECUTIONS.c
    if by == "model":
        return [c.model_name.label("model")], [c.model_name]
    agent_id, by_name = agent_groups()
    name = func.max(source.dialect.text_order(c.agent_name)).label("agent_name")
    return [agent_id, by_name, name], [source.dialect.group_key(agent_id), by_name]


def _key(by: str, row: Row) -> Key:
    """The key a row belongs to: its model, or its agent (agent_id where set, else its name)."""
    return row["model"] if by == "model" else (row["agent_id"], row["by_name"])


def _agent_id(key: Key) -> uuid.UUID | None:
    """An agent key's agent_id (None for a model key or an agent known only by name)."""
    return key[0] if isinstance(key, tuple) else None


def _labels(by: str, rows: list[Row]) -> dict[Key, str | None]:
    """Each key as shown: the model, or the agent's greatest name in the window, else its id.

    None stays None (unknown, as `cost_summary` leaves a missing model): executions without a
    model, or without any agent, are a key of their own.
    """
    if by == "model":
        return {row["model"]: row["model"] for row in rows}
    names: dict[Key, str | None] = {}
    for row in rows:
        key, name = _key(by, row), row["agent_name"]
        names[key] = max(filter(None, (names.get(key), name)), default=None)
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


def _record(
    source: Source, start: datetime, by: str, label: str | None, row: Row | None
) -> dict[str, Any]:
    """One bucket of one key; a key without executions in the bucket gets zeros."""
    return {
        "bucket": start,
        by: label,
        "executions": row["executions"] if row else 0,
        "cost_usd": source.dialect.to_money(row["cost"] if row else None),
        "total_tokens": int(row["total_tokens"] or 0) if row else 0,
    }


def cost_timeseries(source: Source, window: Window, bucket: str, by: str) -> Table:
    """Per UTC hour/day bucket of the window and per `by` ("model" or "agent") key.

    Columns: bucket (start, aware UTC), the key (`model` or `agent`: the agent's name, else its
    id), executions, cost_usd and total_tokens. Every key with executions in the window has a row
    in every bucket (zeros where it has none); rows go by bucket, then key (None last).
    """
    if by not in COST_TIMESERIES_BY:
        raise InvalidInputError(f"by must be one of {', '.join(COST_TIMESERIES_BY)}; got {by!r}")
    starts = [start for start, _, _ in bucket_bounds(window, check_bucket(bucket))]
    c = EXECUTIONS.c
    measures = [
        func.count(c.started_at).label("executions"),
        source.dialect.money_sum(c.cost_usd).label("cost"),
        func.sum(c.total_tokens).label("total_tokens"),
    ]
    keys, groups = _grouping(source, by)
    queries = per_bucket(window, bucket, measures, in_scope(source.user_id), keys, groups)
    with source.connect() as connection:
        rows = [r._mapping for query in queries for r in connection.execute(query)]
    cells = {(row["bucket"], _key(by, row)): row for row in rows}
    labels = _labels(by, rows)
    order = _order(labels)
    records = [
        _record(source, start, by, labels[key], cells.get((start, key)))
        for start in starts
        for key in order
    ]
    frame = to_frame(records, ["bucket", by, *_MEASURES], times=("bucket",), money=("cost_usd",))
    notes: tuple[str, ...] = ()
    if by == "model" and (unpriced := unpriced_models(list(labels.values()))):
        notes = (f"Unpriced models (their executions show $0): {', '.join(unpriced)}",)
    return Table(f"Cost per {bucket} by {by}", window, source.scope, frame, notes)
