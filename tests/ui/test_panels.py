"""Charts, Top Agents and Recent Executions show the analytics layer's rows; rows open traces."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from sqlalchemy import create_engine, update

from aa_notebooks.analytics import Analytics, execution_rows
from aa_notebooks.analytics.filters import EXECUTIONS
from aa_notebooks.db.url import resolve_url
from aa_notebooks.ui import Dashboard
from aa_notebooks.ui.chart_panel import ChartPanel
from tests.ui.dataset import IMG, SCRIPT, eid
from tests.ui.test_executions_grid import E, ids


def chart_rows(panel: ChartPanel) -> list[dict[str, Any]]:
    """The rows the chart widget sends to the browser."""
    assert panel.chart is not None
    datasets = panel.chart.spec["datasets"]
    assert len(datasets) == 1
    return next(iter(datasets.values()))


def test_activity_chart_holds_the_timeseries(dashboard: Dashboard, analytics: Analytics):
    series = analytics.timeseries(analytics.window("7d"), bucket="day").frame
    rows = chart_rows(dashboard.activity)
    assert [r["executions"] for r in rows] == list(series["executions"])
    assert [r["success_rate"] for r in rows] == [
        None if pd.isna(v) else v for v in series["success_rate"]
    ]
    assert sum(r["executions"] for r in rows) == 5


def test_hourly_buckets_for_24h(dashboard: Dashboard, analytics: Analytics):
    dashboard.set_period("24h")
    series = analytics.timeseries("24h", bucket="hour").frame
    assert len(chart_rows(dashboard.activity)) == len(series) == 25


def test_cost_charts(dashboard: Dashboard, analytics: Analytics):
    costs = analytics.cost_summary("7d", by="model").frame
    rows = chart_rows(dashboard.cost_by_model)
    assert [(r["model"], r["cost_usd"]) for r in rows] == list(
        zip(costs["model"], costs["cost_usd"], strict=True)
    )
    assert rows[0] == {**rows[0], "model": "claude-3-5-sonnet", "cost_usd": 0.93}
    over_time = chart_rows(dashboard.cost_over_time)
    per_model: dict[str, float] = {}
    for row in over_time:
        per_model[row["model"]] = per_model.get(row["model"], 0) + row["cost_usd"]
    assert {m: round(c, 6) for m, c in per_model.items()} == {
        "claude-3-5-sonnet": 0.93,
        "gpt-4o": 0.24,
        IMG: 0.0,
    }
    series = analytics.cost_timeseries("7d", bucket="day", by="model").frame
    assert len(over_time) == len(series) == 8 * 3  # every day for every model, zeros included
    assert [(r["model"], r["cost_usd"]) for r in over_time] == list(
        zip(series["model"], series["cost_usd"], strict=True)
    )


def test_cost_charts_name_executions_without_a_model(url: str, analytics: Analytics):
    engine = create_engine(resolve_url(url))
    with engine.begin() as connection:  # E2 (claude, 0.30, a day ago) loses its model
        connection.execute(
            update(EXECUTIONS).where(EXECUTIONS.c.id == eid(2)).values(model_name=None)
        )
    engine.dispose()
    board = Dashboard(analytics)
    by_model = {r["model"]: r["cost_usd"] for r in chart_rows(board.cost_by_model)}
    assert by_model == {"claude-3-5-sonnet": 0.63, "(none)": 0.3, "gpt-4o": 0.24, IMG: 0.0}
    over_time = chart_rows(board.cost_over_time)
    assert len(over_time) == 8 * 4
    assert [(r["bucket"][:10], r["model"], r["cost_usd"]) for r in over_time if r["cost_usd"]] == [
        ("2026-11-20", "claude-3-5-sonnet", 0.63),  # E5
        ("2026-11-23", "gpt-4o", 0.09),  # E3
        ("2026-11-24", "(none)", 0.3),  # E2
        ("2026-11-25", "gpt-4o", 0.15),  # E1
    ]


def test_top_agents_table(dashboard: Dashboard, analytics: Analytics):
    top = analytics.top_agents("7d").frame
    assert [r["Agent"] for r in dashboard.top_agents.rows] == list(top["agent"])
    assert dashboard.top_agents.rows == [
        {"Agent": "planner", "Executions": "2", "Success Rate": "100.0%",
         "Avg Time": "1.50 s", "Cost": "$0.45"},
        {"Agent": "researcher", "Executions": "2", "Success Rate": "50.0%",
         "Avg Time": "1m 02s", "Cost": "$0.63"},
        {"Agent": IMG, "Executions": "1", "Success Rate": "0.0%",
         "Avg Time": "500 ms", "Cost": "$0.09"},
    ]  # fmt: skip


def test_recent_executions_grid(dashboard: Dashboard, analytics: Analytics):
    page = analytics.executions(1, 20, period="7d").rows
    rows = dashboard.recent.rows(0, 20)
    assert dashboard.recent.total == 5
    assert [r["cells"][1] for r in rows] == list(page["query_preview"])
    assert rows[0]["cells"] == [
        "2026-11-25 11:00:00 UTC", SCRIPT, "planner", "gpt-4o", "success", "1.00 s", "150",
        "$0.15",
    ]  # fmt: skip
    assert [r["status"] for r in rows] == ["success", "success", "failure", "timeout", "success"]
    assert dashboard.recent.models == sorted(["gpt-4o", "claude-3-5-sonnet", IMG])
    assert dashboard.recent.agents == sorted(["planner", "researcher", IMG])


def test_the_grid_reaches_every_execution_of_the_period(analytics: Analytics):
    board = Dashboard(analytics, "30d")
    assert board.recent.total == 8
    expected = analytics.executions(2, 3, period="30d").rows
    assert [r["id"] for r in board.recent.rows(3, 3)] == list(expected["id"])
    board.recent.sort("cost_usd", "asc")
    assert [r["cells"][7] for r in board.recent.rows(0, 3)] == ["$0.00", "$0.005", "$0.09"]
    board.set_period("7d")  # a new period keeps the grid's sort
    assert board.recent.total == 5 and board.recent.rows(0, 1)[0]["cells"][7] == "$0.00"


def test_clicking_a_row_opens_the_trace(dashboard: Dashboard):
    dashboard.recent.answer({"kind": "open", "id": str(eid(1))})  # as a row click sends it
    assert dashboard.trace is not None
    assert dashboard.trace.execution_id == str(eid(1))
    assert [s["Type"] for s in dashboard.trace.steps] == [
        "thought", "tool_call", "observation", "final_answer",
    ]  # fmt: skip
    assert dashboard.trace.waterfall is not None
    assert dashboard.trace.widget in dashboard.widget.children[-1].children
    dashboard.select_execution(eid(2))
    assert dashboard.trace.execution_id == str(eid(2))
    dashboard.close_trace()
    assert dashboard.trace is None


def test_widget_displays_through_ipywidgets(dashboard: Dashboard):
    bundle = dashboard._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == (
        dashboard.widget.model_id
    )


def test_a_refresh_sends_new_rows_to_the_same_charts(dashboard: Dashboard, analytics: Analytics):
    widgets = [dashboard.activity.chart, dashboard.cost_by_model.chart]
    dashboard.set_period("30d")
    assert [dashboard.activity.chart, dashboard.cost_by_model.chart] == widgets
    series = analytics.timeseries("30d", bucket="day").frame
    assert [r["executions"] for r in chart_rows(dashboard.activity)] == list(series["executions"])
    costs = analytics.cost_summary("30d", by="model").frame
    assert [(r["model"], r["cost_usd"]) for r in chart_rows(dashboard.cost_by_model)] == list(
        zip(costs["model"], costs["cost_usd"], strict=True)
    )


def test_a_shape_seen_before_gets_its_chart_back_with_new_rows(
    dashboard: Dashboard, analytics: Analytics
):
    """Daily (7d) and hourly (24h) activity charts are built once each: going back to a period
    of the same buckets shows the same widget with that period's rows."""
    daily = dashboard.activity.chart
    dashboard.set_period("24h")
    hourly = dashboard.activity.chart
    assert hourly is not None and hourly is not daily
    dashboard.set_period("30d")
    assert dashboard.activity.chart is daily
    assert dashboard.activity.widget.children == (daily,)
    series = analytics.timeseries("30d", bucket="day").frame
    assert [r["executions"] for r in chart_rows(dashboard.activity)] == list(series["executions"])
    dashboard.set_period("24h")
    assert dashboard.activity.chart is hourly
    series = analytics.timeseries("24h", bucket="hour").frame
    assert [r["executions"] for r in chart_rows(dashboard.activity)] == list(series["executions"])


def test_a_kept_chart_off_the_page_does_not_brush(dashboard: Dashboard):
    daily = dashboard.activity.chart
    assert daily is not None
    dashboard.set_period("24h")
    daily._vl_selections = {
        "brush": {"value": {"yearmonthdate_bucket": [0, 86_400_000]}, "store": []}
    }
    assert dashboard.brush is None and dashboard.activity.brushed is None


def test_a_long_list_takes_its_total_from_the_overview(
    dashboard: Dashboard, monkeypatch: pytest.MonkeyPatch
):
    """Over COUNT_AT_ONCE rows (2 here) the refresh gives the grid's list the overview's total
    (the 7d window's 5 executions) instead of counting every row again in the background; a
    filtered list still counts its own."""
    monkeypatch.setattr(execution_rows, "COUNT_AT_ONCE", 2)
    counted: list[object] = []
    real = execution_rows.ExecutionRows._totals

    def spy(
        self: execution_rows.ExecutionRows, connection: Any, *, rollups: bool = False
    ) -> tuple[int, int]:
        counted.append(self)
        return real(self, connection, rollups=rollups)

    monkeypatch.setattr(execution_rows.ExecutionRows, "_totals", spy)
    dashboard.set_period("30d")
    dashboard.set_period("7d")
    listing = dashboard.recent.listing
    assert listing is not None and listing.wait_mapped(timeout=30)
    assert (listing.total, listing.counted, dashboard.recent.total) == (5, True, 5)
    assert counted == []
    assert ids(dashboard.recent.rows(0, 50)) == E(1, 2, 3, 4, 5)
    dashboard.recent.set_filters(max_duration_ms="5000")  # E4 took 120 s: 4 rows, counted
    filtered = dashboard.recent.listing
    assert filtered is not None and filtered.wait_mapped(timeout=30)
    assert (filtered.total, dashboard.recent.total) == (4, 4) and counted == [filtered]
