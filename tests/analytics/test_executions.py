"""`executions` (page, filters, sorting) and `execution` (detail with trace and token usage)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import text

from aa_notebooks.analytics import Analytics, connect
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import AgentExecution
from aa_notebooks.errors import InvalidInputError, NotFoundError, SchemaError
from tests.analytics.dataset import DROP, NOW, PLANNER_ID, SCRIPT, U1, UNPRICED, E


def ids(page: object) -> list[uuid.UUID]:
    return [uuid.UUID(i) for i in page.rows["id"]]  # type: ignore[attr-defined]


def test_default_page_is_the_newest_first(analytics: Analytics) -> None:
    page = analytics.executions()
    assert ids(page) == [E[1], E[3], E[6], E[4], E[5], E[7], E[8], E[2]]
    assert (page.total, page.page, page.page_size, page.pages) == (8, 1, 20, 1)
    assert str(page.rows["started_at"].dt.tz) == "UTC"
    first = page.rows.iloc[0]
    assert first["started_at"] == pd.Timestamp("2026-11-25 12:00", tz="UTC")
    assert (first["status"], first["agent_name"], first["cost_usd"]) == (
        "success",
        "planner",
        0.0015,
    )
    assert page.rows.loc[page.rows["id"] == str(E[4]), "query_preview"].item() == DROP


def test_paging(analytics: Analytics) -> None:
    assert ids(analytics.executions(1, 3)) == [E[1], E[3], E[6]]
    last = analytics.executions(3, 3)
    assert ids(last) == [E[8], E[2]]
    assert (last.total, last.pages) == (8, 3)
    beyond = analytics.executions(4, 3)
    assert beyond.rows.empty and beyond.total == 8


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"status": "failure"}, [3, 7]),
        ({"status": "timeout"}, [4]),
        ({"agent_id": str(PLANNER_ID)}, [1, 5, 7, 2]),
        ({"agent_name": SCRIPT}, [3, 6]),
        ({"agent_name": DROP}, [4]),
        ({"model": UNPRICED}, [5]),
        ({"status": "success", "agent_id": PLANNER_ID}, [1, 5, 2]),
        ({"model": "'; DROP TABLE agentexecutions; --"}, []),
    ],
)
def test_filters(analytics: Analytics, filters: dict[str, object], expected: list[int]) -> None:
    page = analytics.executions(**filters)  # type: ignore[arg-type]
    assert ids(page) == [E[n] for n in expected]
    assert page.total == len(expected)


@pytest.mark.parametrize(
    ("sort_by", "order", "expected"),
    [
        ("cost_usd", "asc", [5, 7, 6, 3, 1, 2, 4, 8]),
        ("execution_time_ms", "desc", [4, 8, 5, 2, 1, 6, 3, 7]),
        # by code point on both databases: "'" < "<" < "p" < "r"; ties by id
        ("agent_name", "asc", [4, 3, 6, 1, 2, 5, 7, 8]),
        ("status", "asc", [3, 7, 1, 2, 5, 6, 8, 4]),  # failure, success, timeout
        ("started_at", "ASC", [2, 8, 7, 5, 4, 6, 3, 1]),
    ],
)
def test_sorting(analytics: Analytics, sort_by: str, order: str, expected: list[int]) -> None:
    page = analytics.executions(sort_by=sort_by, sort_order=order)
    assert ids(page) == [E[n] for n in expected]


def test_user_scope_and_other_windows(analytics_u1: Analytics, analytics: Analytics) -> None:
    assert ids(analytics_u1.executions()) == [E[1], E[6], E[5], E[8], E[2]]
    assert ids(analytics.executions(period="90d", sort_order="asc"))[:2] == [E[12], E[10]]
    assert analytics.executions(period="90d").total == 11  # E11 is in the future


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"page_size": 0}, "page_size must be 1-1000"),
        ({"page_size": 1001}, "page_size must be 1-1000"),
        ({"page": 0}, "page must be"),
        ({"sort_by": "query_preview; DROP TABLE x"}, "sort_by must be one of started_at"),
        ({"sort_order": "sideways"}, "sort_order must be asc or desc"),
        ({"status": "cancelled"}, "status must be one of success, failure, timeout"),
        ({"agent_id": "not-a-uuid"}, "agent_id must be a UUID"),
        ({"period": "7x"}, "period must be"),
    ],
)
def test_bad_arguments(analytics: Analytics, arguments: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        analytics.executions(**arguments)  # type: ignore[arg-type]


def test_execution_detail_with_ordered_steps_and_usage(analytics: Analytics) -> None:
    detail = analytics.execution(str(E[1]))
    assert detail.id == E[1]
    record = detail.execution
    assert record["status"] == "success"
    assert record["cost_usd"] == Decimal("0.001500")
    assert record["user_id"] == U1
    assert record["started_at"].isoformat() == "2026-11-25T12:00:00+00:00"
    assert list(detail.traces["step_number"]) == [1, 2, 3, 4]  # stored 3, 1, 4, 2
    assert list(detail.traces["step_type"]) == [
        "thought",
        "tool_call",
        "observation",
        "final_answer",
    ]
    assert list(detail.traces["duration_ms"]) == [100, 200, 50, 150]
    assert list(detail.token_usage["component"]) == ["main_agent", "tool_call"]
    assert list(detail.token_usage["cost_usd"]) == [0.001, 0.0005]
    assert detail.to_frame().equals(detail.traces)


def test_execution_detail_keeps_text_and_unknown_steps(analytics: Analytics) -> None:
    detail = analytics.execution(E[3])
    assert list(detail.traces["content"]) == ["<b>bold</b> & 'quotes'", "-1+1"]
    assert detail.token_usage["step_number"].isna().all()
    assert detail.execution["query_preview"] == '=HYPERLINK("http://evil.example","click")'


def test_execution_errors(analytics: Analytics, analytics_u1: Analytics) -> None:
    with pytest.raises(NotFoundError, match="no execution with id"):
        analytics.execution(uuid.UUID(int=12345))
    with pytest.raises(InvalidInputError, match="execution id must be a UUID"):
        analytics.execution("12345")
    with pytest.raises(NotFoundError, match=f"for user {U1}"):
        analytics_u1.execution(E[3])  # U2's execution


def test_database_without_trace_tables(loaded_url: str) -> None:
    with get_engine(loaded_url).begin() as connection:
        connection.execute(text("DROP TABLE tokenusages"))
        connection.execute(text("DROP TABLE executiontraces"))
    analytics = connect(loaded_url, now=lambda: NOW)
    detail = analytics.execution(E[1])
    assert detail.traces is None and detail.token_usage is None  # not recorded, not empty
    assert detail.execution["cost_usd"] == Decimal("0.001500")
    assert detail.to_frame().empty
    with pytest.raises(SchemaError, match="no executiontraces table"):
        analytics.export(include_traces=True)
    assert len(analytics.export().splitlines()) == 1 + 8


# --- the grid's filters: cost and duration ranges, text in the query preview, offsets ---------
# Newest first, the 7d window is E1, E3, E6, E4, E5, E7, E8, E2 (costs and times in dataset.py).


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"min_cost": "0.0015"}, [1, 4, 8, 2]),  # .0015 itself is in: bounds are inclusive
        ({"max_cost": Decimal("0.0009")}, [3, 6, 5, 7]),
        ({"min_cost": 0.0009, "max_cost": "0.003"}, [1, 3, 2]),
        ({"min_duration_ms": 1000, "max_duration_ms": 4000}, [1, 5, 8, 2]),
        ({"min_duration_ms": "120000"}, [4]),
        ({"search": "script"}, [6]),
        ({"search": "SCRIPT"}, [6]),  # case does not matter
        ({"search": "a1:a2"}, [5]),
        ({"search": "'; drop"}, [4]),
        ({"search": '"hi"'}, [2]),
        ({"search": "%"}, []),  # LIKE wildcards are matched as themselves
        ({"search": "_"}, []),
        ({"search": "/"}, [3, 6]),  # the escape character too ("http://", "</script>")
        ({"search": ""}, [1, 3, 6, 4, 5, 7, 8, 2]),  # an empty search is no filter
        ({"search": "is", "status": "success", "max_cost": "0.002"}, [1]),
    ],
)
def test_grid_filters(analytics: Analytics, filters: dict[str, object], expected: list[int]):
    page = analytics.executions(**filters)  # type: ignore[arg-type]
    assert ids(page) == [E[n] for n in expected]
    assert page.total == len(expected)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"min_cost": "-1"}, "min_cost must be a cost in USD from 0 to 9999.999999; got '-1'"),
        ({"max_cost": "cheap"}, "max_cost must be a cost in USD"),
        ({"max_cost": "NaN"}, "max_cost must be a cost in USD"),
        ({"min_cost": "10000"}, "min_cost must be a cost in USD from 0 to 9999.999999"),
        ({"min_cost": "1", "max_cost": "0.5"}, r"min_cost \(1\) is above max_cost \(0.5\): swap"),
        ({"min_duration_ms": 1.5}, "min_duration_ms must be whole milliseconds; got 1.5"),
        ({"max_duration_ms": -1}, "max_duration_ms must be 0-2,147,483,647 ms"),
        ({"min_duration_ms": 9, "max_duration_ms": 3}, "min_duration_ms .9. is above"),
        ({"search": "a\x00b"}, "search must not contain NUL"),
        ({"search": "x" * 1001}, "search must be at most 1000 characters"),
        ({"offset": -1}, "offset must be a whole number 0-"),
        ({"offset": True}, "offset must be a whole number 0-"),
    ],
)
def test_bad_grid_arguments(analytics: Analytics, arguments: dict[str, object], message: str):
    with pytest.raises(InvalidInputError, match=message):
        analytics.executions(**arguments)  # type: ignore[arg-type]


def test_offset_replaces_the_page(analytics: Analytics) -> None:
    page = analytics.executions(page_size=3, offset=2)
    assert ids(page) == [E[6], E[4], E[5]]
    assert (page.offset, page.page, page.total) == (2, 1, 8)
    assert analytics.executions(2, 3).offset == 3


def test_an_unknown_cost_reads_as_unknown_not_as_zero(loaded_url: str) -> None:
    """E03's cost set to NULL (another program's run it could not price): the list, the detail
    show no cost, as the cost filters treat it (neither cost <= $0.10 nor >= $0)."""
    executions_table = AgentExecution.__table__
    with get_engine(loaded_url).begin() as connection:
        connection.execute(
            executions_table.update().where(executions_table.c.id == E[3]).values(cost_usd=None)
        )
    analytics = connect(loaded_url, now=lambda: NOW)
    frame = analytics.executions(period="7d").rows.set_index("id")
    assert pd.isna(frame.loc[str(E[3]), "cost_usd"])
    assert frame.loc[str(E[4]), "cost_usd"] == 0.004
    assert analytics.execution(E[3]).execution["cost_usd"] is None
    for filters in ({"max_cost": "0.1"}, {"min_cost": "0"}):
        ids = analytics.executions(period="7d", **filters).rows["id"].tolist()  # type: ignore[arg-type]
        assert str(E[3]) not in ids and len(ids) == 7
