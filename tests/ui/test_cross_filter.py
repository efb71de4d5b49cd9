"""Cross-filtering: a time range brushed on the activity chart narrows the KPI cards and the
executions grid to it, and clearing the brush brings back the whole period.

7d window of the dataset: E1 now-1h, E2 now-1d, E3 now-2d, E4 now-3d, E5 now-5d.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import pandas as pd

from aa_notebooks.analytics import Analytics
from aa_notebooks.ui import Dashboard
from aa_notebooks.ui.chart_panel import brush_range
from tests.ui.dataset import NOW, eid
from tests.ui.test_kpis import expected_kpis

H, D = timedelta(hours=1), timedelta(days=1)


def ms(moment: datetime) -> float:
    return moment.timestamp() * 1000


def test_brushing_narrows_cards_and_grid(dashboard: Dashboard, analytics: Analytics):
    dashboard.set_brush(NOW - 2 * D - H, NOW - 2 * H)  # E2 and E3
    assert str(dashboard.brush) == "brushed [2026-11-23 11:00 – 2026-11-25 10:00) UTC"
    assert dashboard.kpis == expected_kpis(analytics.overview(dashboard.brush))
    assert dashboard.kpis["Total Executions"] == "2"
    assert dashboard.recent.total == 2
    assert [r["id"] for r in dashboard.recent.rows(0, 10)] == [str(eid(2)), str(eid(3))]
    assert dashboard.message.startswith(
        "Cards and executions show brushed [2026-11-23 11:00 – 2026-11-25 10:00) UTC: the range"
    )
    dashboard.clear_brush()
    assert dashboard.brush is None and dashboard.kpis["Total Executions"] == "5"
    assert dashboard.recent.total == 5 and dashboard.message == ""


def test_the_chart_selection_drives_the_brush(dashboard: Dashboard):
    chart = dashboard.activity.chart
    assert chart is not None
    # what the front end syncs when the user drags across the bars (epoch milliseconds)
    chart._vl_selections = {
        "brush": {"value": {"yearmonthdate_bucket": [ms(NOW - 4 * D), ms(NOW)]}, "store": []}
    }
    dashboard.wait()
    assert dashboard.kpis["Total Executions"] == "4"  # E1-E4
    chart._vl_selections = {"brush": {"value": {}, "store": []}}  # a click outside: cleared
    dashboard.wait()
    assert dashboard.kpis["Total Executions"] == "5" and dashboard.recent.total == 5


def test_a_brush_is_clipped_to_the_period_and_reset_by_a_new_one(dashboard: Dashboard):
    dashboard.set_brush(NOW - 30 * D, NOW - 4 * D)  # starts long before the 7d window
    assert dashboard.brush is not None and dashboard.brush.start == NOW - 7 * D
    assert dashboard.kpis["Total Executions"] == "1"  # E5
    dashboard.set_brush(NOW + D, NOW + 2 * D)  # after the window: nothing to narrow to
    assert dashboard.brush is None and dashboard.kpis["Total Executions"] == "5"
    dashboard.set_brush(NOW - D - H, NOW)
    dashboard.set_period("30d")
    assert dashboard.brush is None and dashboard.kpis["Total Executions"] == "8"


def test_brush_range_from_vega_values():
    start, end = datetime.fromisoformat("2026-11-20T00:00:00+00:00"), NOW
    assert brush_range({"value": {"x": [ms(end), ms(start)]}}) == (start, end)  # any order
    assert brush_range({"value": {"x": ["2026-11-20T00:00:00.000Z", NOW.isoformat()]}}) == (
        start,
        end,
    )
    assert brush_range(None) is None and brush_range({"value": None}) is None
    assert brush_range({"value": {"x": [ms(end), ms(end)]}}) is None  # no width
    assert brush_range({"value": {"x": ["soon", "later"]}}) is None


def test_export_follows_the_brush(dashboard: Dashboard):
    dashboard.set_brush(NOW - 2 * D - H, NOW - 2 * H)  # E2 and E3
    exported = dashboard.export_csv()
    assert exported is not None and exported.rows == 2
    frame = pd.read_csv(io.StringIO(exported.path.read_text(encoding="utf-8")))
    assert sorted(frame["id"]) == sorted([str(eid(2)), str(eid(3))])
    assert exported.path.name.startswith("agent-executions_brushed_all-users_")
