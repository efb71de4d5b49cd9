"""Trace steps and token usage of executions: one query each for any number of executions.

The execution detail asks for one execution, the export for a chunk of them; both get them
grouped by execution id, steps ordered by step number, usage by step number then component.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, String, cast, select

from aa_notebooks.analytics.filters import TOKEN_USAGES, TRACES
from aa_notebooks.analytics.source import Source

TRACE_FIELDS = (
    "step_number", "step_type", "content", "duration_ms", "input_tokens", "output_tokens",
    "timestamp",
)  # fmt: skip
NESTING_FIELDS = ("parent_step", "depth")
"""The kit's additions that place a step in a tree of steps (absent from AgentOS databases)."""
USAGE_FIELDS = ("component", "model", "step_number", "input_tokens", "output_tokens", "cost_usd")
Grouped = dict[uuid.UUID, list[dict[str, Any]]]


def _grouped(connection: Connection, query: Any) -> Grouped:
    grouped: Grouped = defaultdict(list)
    for row in connection.execute(query):
        item = dict(row._mapping)
        grouped[item.pop("execution_id")].append(item)
    return grouped


def trace_steps(
    connection: Connection, execution_ids: Sequence[uuid.UUID], *, nested: bool = False
) -> Grouped:
    """The ReAct steps (TRACE_FIELDS, and NESTING_FIELDS when `nested`) of each execution, in
    step order."""
    t = TRACES.c
    names = TRACE_FIELDS + NESTING_FIELDS if nested else TRACE_FIELDS
    fields = [cast(t.step_type, String).label(f) if f == "step_type" else t[f] for f in names]
    query = (
        select(t.execution_id, *fields)
        .where(t.execution_id.in_(execution_ids))
        .order_by(t.execution_id, t.step_number, t.timestamp, t.id)
    )
    return _grouped(connection, query)


def token_usage(
    source: Source, connection: Connection, execution_ids: Sequence[uuid.UUID]
) -> Grouped:
    """The token usage rows (USAGE_FIELDS, cost_usd as Decimal) of each execution."""
    u = TOKEN_USAGES.c
    fields = [
        source.dialect.money(u.cost_usd).label(f) if f == "cost_usd" else u[f] for f in USAGE_FIELDS
    ]
    query = (
        select(u.execution_id, *fields)
        .where(u.execution_id.in_(execution_ids))
        .order_by(
            u.execution_id,
            u.step_number.asc().nulls_last(),
            source.dialect.text_order(u.component),
            u.id,
        )
    )
    grouped = _grouped(connection, query)
    for rows in grouped.values():
        for row in rows:
            row["cost_usd"] = source.dialect.to_money(row["cost_usd"])
    return grouped
