"""Percentiles: PostgreSQL's `percentile_cont`, and SQLite's aggregate that must equal it."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import insert

from aa_notebooks.analytics import Analytics
from aa_notebooks.analytics.dialect import _SQLitePercentiles, interpolate
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import AgentExecution
from tests.analytics.dataset import NOW, U2


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        ([10], 0.95, 10.0),
        ([1, 2], 0.5, 1.5),  # position 0.5
        ([1, 2, 3, 4], 0.95, 3.85),  # position 2.85: 3 + 0.85 x 1
        ([250, 500, 700, 1000, 2000, 3000, 4000, 120000], 0.5, 1500.0),
        ([0, 100], 0.99, 99.0),
    ],
)
def test_linear_interpolation(values: list[int], fraction: float, expected: float) -> None:
    assert interpolate(values, fraction) == pytest.approx(expected)


def test_sqlite_aggregate_skips_nulls() -> None:
    aggregate = _SQLitePercentiles()
    for value in (None, 40, 10, None, 30, 20):
        aggregate.step(value)
    # sorted 10 20 30 40: positions 1.5, 2.85, 2.97
    assert json.loads(aggregate.finalize()) == pytest.approx([25.0, 38.5, 39.7])
    empty = _SQLitePercentiles()
    empty.step(None)
    assert empty.finalize() is None


def test_unknown_durations_are_left_out_on_both_databases(
    analytics: Analytics, loaded_url: str
) -> None:
    row = {
        "id": uuid.UUID(int=13),
        "user_id": U2,
        "request_id": uuid.UUID(int=0xAA13),
        "session_id": uuid.UUID(int=0xBB13),
        "agent_name": "planner",
        "model_name": "gpt-4o",
        "status": "success",
        "execution_time_ms": None,  # never reported
        "started_at": NOW - timedelta(minutes=1),
    }
    with get_engine(loaded_url).begin() as connection:
        connection.execute(insert(AgentExecution.__table__), [row])
    overview = analytics.overview()
    assert overview.total_executions == 9  # it counts as an execution...
    assert overview.avg_response_time_ms == 16431.25  # ...but not as a duration
    assert (overview.p50_ms, overview.p95_ms, overview.p99_ms) == (1500.0, 79400.0, 111880.0)
    assert analytics.timeseries("24h").frame["p95_ms"].tolist()[-1] == 975.0
