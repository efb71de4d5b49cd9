"""`waterfall_rows`: nesting by parent reference, starts from timestamps or from durations,
per-step costs from usage rows; hand-made steps with answers worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from aa_notebooks.ui.trace_tree import step_costs, waterfall_rows

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def step(number: int, kind: str, duration: int | None, at: float | None = None) -> dict:
    stamp = None if at is None else T0 + timedelta(milliseconds=at)
    return {"step_number": number, "step_type": kind, "content": f"step {number}",
            "duration_ms": duration, "input_tokens": number, "output_tokens": 0,
            "timestamp": stamp}  # fmt: skip


def shape(rows) -> list[tuple]:  # type: ignore[no-untyped-def]
    return [(r.step_number, r.parent, r.depth, r.start_ms, r.children) for r in rows]


def test_a_flat_react_list_runs_back_to_back() -> None:
    steps = [step(1, "thought", 100), step(2, "tool_call", 200), step(3, "observation", None),
             step(4, "final_answer", 150)]  # fmt: skip
    rows = waterfall_rows(steps)
    assert shape(rows) == [(1, None, 0, 0, []), (2, None, 0, 100, []), (3, None, 0, 300, []),
                           (4, None, 0, 300, [])]  # fmt: skip
    assert rows[2].duration_ms is None  # unknown stays unknown (drawn as a thin mark)


def test_timestamps_place_the_steps_when_they_differ() -> None:
    steps = [step(1, "thought", 100, at=0), step(2, "action", 50, at=10),
             step(3, "observation", 5, at=500)]  # fmt: skip
    assert [r.start_ms for r in waterfall_rows(steps)] == [0, 10, 500]
    same = [step(1, "thought", 100, at=0), step(2, "action", 50, at=0)]
    assert [r.start_ms for r in waterfall_rows(same)] == [0, 100]  # all equal: durations


def test_nesting_by_parent_reference() -> None:
    steps = [step(1, "action", 1000), step(2, "thought", 100), step(3, "tool_call", 300),
             step(4, "observation", 50), step(5, "final_answer", 20)]  # fmt: skip
    rows = waterfall_rows(steps, [None, 1, 1, 3, None])
    assert shape(rows) == [
        (1, None, 0, 0, [1, 2]),
        (2, 0, 1, 0, []),
        (3, 0, 1, 100, [3]),
        (4, 2, 2, 100, []),
        (5, None, 0, 1000, []),
    ]


def test_children_come_after_their_parent_whatever_the_stored_order() -> None:
    steps = [step(3, "observation", 10), step(1, "action", 100), step(2, "thought", 20)]
    rows = waterfall_rows(steps, ["span-a", None, "span-a"], keys=["c", "span-a", "b"])
    assert [(r.step_number, r.parent, r.depth) for r in rows] == [
        (1, None, 0), (3, 0, 1), (2, 0, 1),  # siblings keep the order they were given in
    ]  # fmt: skip


def test_unknown_parents_and_cycles_become_roots() -> None:
    steps = [step(1, "thought", 10), step(2, "action", 10), step(3, "action", 10)]
    rows = waterfall_rows(steps, [2, 1, 99])  # 1 and 2 point at each other; 99 is nowhere
    assert [(r.step_number, r.parent, r.depth) for r in rows] == [
        (1, None, 0), (2, 0, 1), (3, None, 0),
    ]  # fmt: skip
    with pytest.raises(ValueError, match="2 parent references for 3 steps"):
        waterfall_rows(steps, [None, None])


def test_costs_of_steps_from_their_usage_rows() -> None:
    usage = pd.DataFrame({"step_number": [1, 1, 2, None], "cost_usd": [0.001, 0.0005, 0.002, 0.3]})
    costs = step_costs(usage)
    assert costs == {1: Decimal("0.0015"), 2: Decimal("0.002")}  # no step: not a step's cost
    rows = waterfall_rows([step(1, "thought", 1), step(2, "action", 1), step(3, "action", 1)],
                          step_costs=costs)  # fmt: skip
    assert [r.cost_usd for r in rows] == [Decimal("0.0015"), Decimal("0.002"), None]


def test_a_step_number_two_steps_share_has_its_cost_shown_once() -> None:
    """Another program wrote two steps numbered 1: the usage cost of step 1 showed on both,
    and the steps' costs added up to twice the run's."""
    rows = waterfall_rows([step(1, "thought", 1), step(1, "action", 1), step(2, "action", 1)],
                          step_costs={1: Decimal("0.0001"), 2: Decimal("0.002")})  # fmt: skip
    assert [r.cost_usd for r in rows] == [Decimal("0.0001"), None, Decimal("0.002")]


def test_a_data_frame_of_steps_as_analytics_returns_it() -> None:
    frame = pd.DataFrame([step(1, "thought", 100, at=0), step(2, "action", 40, at=100)])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    rows = waterfall_rows(frame)
    assert [(r.step_type, r.start_ms, r.duration_ms, r.input_tokens) for r in rows] == [
        ("thought", 0, 100, 1), ("action", 100, 40, 2),
    ]  # fmt: skip
