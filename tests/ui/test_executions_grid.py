"""`ExecutionsGrid` without a browser: the messages the front end sends and what they answer,
filters and sorting (done in SQL), a stale request after a change, a row click, bad input.

The 7d window of the widget dataset, newest first, is E1, E2, E3, E4, E5 (see dataset.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from aa_notebooks.analytics import Analytics, execution_rows
from aa_notebooks.ui import ExecutionsGrid
from aa_notebooks.ui.executions_grid import COLUMNS
from tests.ui.dataset import IMG, SCRIPT, eid


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [row["id"] for row in rows]


def E(*numbers: int) -> list[str]:
    return [str(eid(n)) for n in numbers]


@pytest.fixture
def grid(analytics: Analytics) -> ExecutionsGrid:
    return ExecutionsGrid(analytics, "7d")


def ask(grid: ExecutionsGrid, offset: int, limit: int) -> dict[str, Any]:
    reply = grid.answer({"kind": "rows", "offset": offset, "limit": limit, "version": grid.version})
    assert reply is not None
    return reply


def test_rows_as_the_front_end_gets_them(grid: ExecutionsGrid) -> None:
    assert grid.total == 5 and grid.version == 1
    assert grid.label.startswith("7d [2026-11-18 12:00 – 2026-11-25 12:00] UTC · all users")
    reply = ask(grid, 0, 2)
    assert (reply["kind"], reply["offset"], reply["version"]) == ("rows", 0, 1)
    assert reply["rows"][0] == {
        "id": str(eid(1)),
        "status": "success",
        "cells": [
            "2026-11-25 11:00:00 UTC", SCRIPT, "planner", "gpt-4o", "success", "1.00 s", "150",
            "$0.15",
        ],
    }  # fmt: skip
    assert [c["title"] for c in COLUMNS] == [
        "Timestamp", "Query Preview", "Agent", "Model", "Status", "Duration", "Tokens", "Cost",
    ]  # fmt: skip
    assert ids(ask(grid, 3, 50)["rows"]) == E(4, 5)
    assert ask(grid, 5, 50)["rows"] == []


def test_sorting_is_done_in_sql(grid: ExecutionsGrid) -> None:
    grid.sort("cost_usd", "desc")
    assert grid.version == 2
    assert ids(grid.rows(0, 10)) == E(5, 2, 1, 3, 4)  # 0.63, 0.30, 0.15, 0.09, 0
    grid.sort_order = "asc"  # as the front end sets it
    assert ids(grid.rows(0, 10)) == E(4, 3, 1, 2, 5)
    grid.sort("execution_time_ms")
    assert ids(grid.rows(1, 2)) == E(5, 2)  # 120 s, 4 s, 2 s, ...


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"status": "success"}, [1, 2, 5]),
        ({"agent": "researcher"}, [4, 5]),
        ({"agent": "aaaaaaaa-aaaa-4aaa-8aaa-000000000001"}, [1, 2]),  # planner's id
        ({"agent": IMG}, [3]),
        ({"model": "claude-3-5-sonnet"}, [2, 5]),
        ({"min_cost": "0.1", "max_cost": "0.3"}, [1, 2]),
        ({"min_duration_ms": "2000"}, [2, 4, 5]),
        ({"max_duration_ms": "1000", "status": ""}, [1, 3]),
        ({"search": "<IMG"}, [3]),
        ({"search": "6*7"}, [2]),
        ({"search": "%"}, []),
    ],
)
def test_filters(grid: ExecutionsGrid, filters: dict[str, str], expected: list[int]) -> None:
    grid.filters = filters  # as the toolbar sends them
    assert grid.error == ""
    assert grid.total == len(expected)
    assert ids(grid.rows(0, 50)) == E(*expected)


def test_a_request_for_a_replaced_list_is_dropped(grid: ExecutionsGrid) -> None:
    old = grid.version
    grid.set_filters(status="failure")
    reply = grid.answer({"kind": "rows", "offset": 0, "limit": 5, "version": old})
    assert reply == {"kind": "rows", "offset": 0, "version": old, "rows": [], "stale": True}
    assert ids(ask(grid, 0, 5)["rows"]) == E(3)


def test_a_new_list_stops_the_walk_of_the_one_it_replaces(grid: ExecutionsGrid) -> None:
    before = grid.listing
    assert before is not None and not before.closed
    grid.sort("cost_usd", "asc")
    assert before.closed and grid.listing is not None and not grid.listing.closed


def test_a_long_list_is_counted_in_the_background(
    analytics: Analytics, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over COUNT_AT_ONCE rows (2 here) the grid shows what is counted, then the total."""
    monkeypatch.setattr(execution_rows, "COUNT_AT_ONCE", 2)
    grid = ExecutionsGrid(analytics, "7d")
    listing = grid.listing
    assert listing is not None and listing.wait_mapped(timeout=30)
    assert (grid.total, grid.counting) == (5, False)
    assert ids(grid.rows(0, 50)) == E(1, 2, 3, 4, 5)
    grid.set_filters(search="<IMG")  # 1 row: counted at once
    assert (grid.total, grid.counting) == (1, False)
    grid._counted(listing, 999)  # a late answer for the list replaced: ignored
    assert grid.total == 1


def test_bad_filters_say_why_and_keep_the_list(grid: ExecutionsGrid) -> None:
    grid.set_filters(min_cost="5", max_cost="1")
    assert grid.error == "min_cost (5) is above max_cost (1): swap them"
    assert grid.total == 5 and grid.version == 1
    grid.set_filters(min_duration_ms="soon")
    assert grid.error == "min_duration_ms must be whole milliseconds; got 'soon'"
    grid.set_filters(max_duration_ms="5000")
    assert grid.error == "" and grid.total == 4 and grid.version == 2  # E4 took 120 s
    reply = grid.answer({"kind": "rows", "offset": "x", "limit": 5, "version": grid.version})
    assert reply is not None and reply["rows"] == [] and "Could not read rows" in reply["error"]


def test_a_row_click_opens_the_execution(analytics: Analytics) -> None:
    opened: list[str] = []
    grid = ExecutionsGrid(analytics, "7d", on_open=opened.append)
    assert grid.answer({"kind": "open", "id": str(eid(3))}) is None
    assert opened == E(3) and grid.selected == str(eid(3))


def test_messages_reach_the_front_end_through_send(grid: ExecutionsGrid, monkeypatch) -> None:
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(grid, "send", lambda content, buffers=None: sent.append(content))
    grid._handle_custom_msg({"kind": "rows", "offset": 4, "limit": 1, "version": 1}, [])
    assert len(sent) == 1 and ids(sent[0]["rows"]) == E(5)


def test_the_front_end_files_are_the_widgets_folder(grid: ExecutionsGrid) -> None:
    from aa_notebooks.ui.assets import CHECKOUT_WIDGETS

    assert grid._esm == (CHECKOUT_WIDGETS / "executions_grid.js").read_text(encoding="utf-8")
    assert "innerHTML" not in grid._esm  # text from the data goes in with textContent
    assert "http" not in grid._esm and "http" not in grid._css  # nothing from the network
