"""The rows of a trace waterfall: steps nested by parent, each placed on the trace's time axis.

`waterfall_rows` is the one place that turns stored steps into the tree the waterfall draws.
Without parent references every step is a root (a plain ReAct list). Starts come from the
steps' timestamps (taken as each step's start) when every step has one and they differ, else
from durations: siblings one after another, children from their parent's start.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import pandas as pd


@dataclass
class WaterfallRow:
    """One step as the waterfall shows it; `index` is its position in depth-first order."""

    index: int
    parent: int | None
    """The index of the parent row, or None for a root."""
    depth: int
    step_number: int | None
    step_type: str
    content: str
    start_ms: float
    """Milliseconds from the trace's start."""
    duration_ms: float | None
    """None when the step recorded no duration (unknown, drawn as a thin mark)."""
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: Decimal | None
    """The cost of the token usage rows of this step; None when it has none."""
    children: list[int] = field(default_factory=list)


def _missing(value: Any) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _number(value: Any) -> float | None:
    return None if _missing(value) else float(value)


def _whole(value: Any) -> int | None:
    return None if _missing(value) else int(value)


def _parents(
    keys: Sequence[Hashable], parents: Sequence[Hashable | None] | None
) -> list[int | None]:
    """Each step's parent as a position, or None: unknown references and cycles become roots."""
    if parents is None:
        return [None] * len(keys)
    if len(parents) != len(keys):
        raise ValueError(f"{len(parents)} parent references for {len(keys)} steps")
    position = {key: i for i, key in enumerate(keys)}
    found: list[int | None] = [None if _missing(ref) else position.get(ref) for ref in parents]
    for start in range(len(found)):  # a step that is its own ancestor starts a new tree
        seen, node = {start}, found[start]
        while node is not None:
            if node in seen:
                found[start] = None
                break
            seen.add(node)
            node = found[node]
    return found


def _timestamps(steps: Sequence[Mapping[str, Any]]) -> list[datetime] | None:
    stamps = [step.get("timestamp") for step in steps]
    if not stamps or any(_missing(s) for s in stamps):
        return None
    moments = [pd.Timestamp(s).to_pydatetime() for s in stamps]
    return moments if len(set(moments)) > 1 or len(moments) == 1 else None  # all equal: unusable


def waterfall_rows(
    steps: pd.DataFrame | Sequence[Mapping[str, Any]],
    parents: Sequence[Hashable | None] | None = None,
    *,
    keys: Sequence[Hashable] | None = None,
    step_costs: Mapping[int, Decimal] | None = None,
) -> list[WaterfallRow]:
    """The steps as waterfall rows, parents before their children, siblings in step order.

    `parents[i]` names the parent of step i by its key (`keys[i]`, by default its step number),
    or None for a root. `step_costs` maps step numbers to the cost of their usage rows, shown on
    the first step of that number only.
    """
    records = steps.to_dict("records") if isinstance(steps, pd.DataFrame) else list(steps)
    keys = list(keys) if keys is not None else [r.get("step_number") for r in records]
    parent_of = _parents(keys, parents)
    children: dict[int | None, list[int]] = {}
    for i, parent in enumerate(parent_of):
        children.setdefault(parent, []).append(i)
    stamps = _timestamps(records)
    origin = min(stamps) if stamps else None
    costs = dict(step_costs or {})
    rows: list[WaterfallRow] = []

    def visit(i: int, parent_row: int | None, depth: int, start: float) -> float:
        """Add step i and its subtree; return where the next sibling starts (durations)."""
        record = records[i]
        duration = _number(record.get("duration_ms"))
        if stamps is not None and origin is not None:
            start = (stamps[i] - origin).total_seconds() * 1000
        number = _whole(record.get("step_number"))
        row = WaterfallRow(
            index=len(rows),
            parent=parent_row,
            depth=depth,
            step_number=number,
            step_type=str(record.get("step_type") or ""),
            content="" if _missing(record.get("content")) else str(record.get("content")),
            start_ms=start,
            duration_ms=duration,
            input_tokens=_whole(record.get("input_tokens")),
            output_tokens=_whole(record.get("output_tokens")),
            # a number two steps share (another program's rows): its cost shown once
            cost_usd=costs.pop(number, None) if number is not None else None,
        )
        rows.append(row)
        if parent_row is not None:
            rows[parent_row].children.append(row.index)
        child_start = start
        for child in children.get(i, []):
            child_start = visit(child, row.index, depth + 1, child_start)
        return start + (duration or 0)

    next_start = 0.0
    for root in children.get(None, []):
        next_start = visit(root, None, 0, next_start)
    return rows


def step_costs(usage: pd.DataFrame | None) -> dict[int, Decimal]:
    """The cost of each step from the token usage rows that name their step."""
    if usage is None or usage.empty:
        return {}
    costs: dict[int, Decimal] = {}
    for row in usage.itertuples(index=False):
        if _missing(row.step_number) or _missing(row.cost_usd):
            continue
        number = int(row.step_number)
        costs[number] = costs.get(number, Decimal(0)) + Decimal(str(row.cost_usd))
    return costs
