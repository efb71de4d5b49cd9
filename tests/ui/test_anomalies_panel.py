"""The dashboard's "Anomalies" panel over the hand-made series of tests/analytics/series.py
(spikes and their z as worked out in tests/analytics/test_anomalies.py)."""

from __future__ import annotations

import pandas as pd

from aa_notebooks.analytics import connect
from aa_notebooks.ui import Dashboard
from aa_notebooks.ui.anomalies_panel import NONE_FOUND, AnomaliesPanel
from tests.analytics import series

HOSTILE = "<img src=x onerror=alert(1)>"


def _load(url: str, rename_alpha: str = "alpha") -> None:
    rows = [
        {**row, "agent_name": rename_alpha} if row["agent_name"] == "alpha" else row
        for row in series.rows()
    ]
    series.load(url, rows)


def test_the_dashboard_lists_the_periods_anomalies(db_url: str, tmp_path) -> None:
    _load(db_url)
    client = connect(db_url, now=lambda: series.NOW)
    dashboard = Dashboard(
        client, start_date=series.START_DATE, end_date=series.END_DATE, export_dir=tmp_path
    )
    rows = [(r["Day"], r["Agent or model"], r["Metric"], r["Robust z"])
            for r in dashboard.anomalies.rows]  # fmt: skip
    assert rows == [
        ("2026-11-25", "beta (agent)", "P95 latency", "+268.8"),
        ("2026-11-25", "claude (model)", "P95 latency", "+268.8"),
        ("2026-11-26", "alpha (agent)", "Cost", "+60.4"),
        ("2026-11-26", "gpt-4o (model)", "Cost", "+60.4"),
        ("2026-11-24", "weekly (agent)", "Cost", "+60.0"),
        ("2026-11-24", "weekly (model)", "Cost", "+60.0"),
        ("2026-11-27", "gamma (agent)", "Failure rate", "+9.6"),
        ("2026-11-27", "acme (model)", "Failure rate", "+9.6"),
    ]
    assert dashboard.anomalies.rows[0]["Value"] == "5.00 s"
    assert dashboard.anomalies.note == ""


def test_a_quiet_period_says_so(db_url: str, tmp_path) -> None:
    _load(db_url)
    client = connect(db_url, now=lambda: series.NOW)
    dashboard = Dashboard(client, start_date="2026-11-23", end_date="2026-11-23",
                          export_dir=tmp_path)  # fmt: skip
    assert (dashboard.anomalies.rows, dashboard.anomalies.note) == ([], NONE_FOUND)
    assert NONE_FOUND in dashboard.anomalies.widget.value


def test_names_are_escaped(db_url: str, tmp_path) -> None:
    _load(db_url, rename_alpha=HOSTILE)
    client = connect(db_url, now=lambda: series.NOW)
    dashboard = Dashboard(
        client, start_date=series.START_DATE, end_date=series.END_DATE, export_dir=tmp_path
    )
    html = dashboard.anomalies.widget.value
    assert HOSTILE not in html
    assert "<bdi>&lt;img src=x onerror=alert(1)&gt;</bdi> (agent)" in html


def test_a_right_to_left_override_in_a_name_stays_in_the_name(db_url: str, tmp_path) -> None:
    """An agent named with an unclosed U+202E showed the panel's own label as "(tnega)": the
    name is isolated, so the override ends with it."""
    _load(db_url, rename_alpha="alpha\u202eRTL")
    client = connect(db_url, now=lambda: series.NOW)
    dashboard = Dashboard(
        client, start_date=series.START_DATE, end_date=series.END_DATE, export_dir=tmp_path
    )
    assert "<bdi>alpha\u202eRTL</bdi> (agent)" in dashboard.anomalies.widget.value


def test_more_rows_than_shown_are_counted() -> None:
    row = {
        "day": pd.Timestamp("2026-11-25", tz="UTC"), "by": "agent", "group": "a",
        "metric": "cost_usd", "value": 1.0, "baseline_median": 0.1, "baseline_mad": 0.01,
        "z": float("inf"), "direction": "up", "baseline": "weekday", "baseline_points": 4,
    }  # fmt: skip
    panel = AnomaliesPanel()
    panel.display(pd.DataFrame([row] * 12))
    assert len(panel.rows) == 10
    assert panel.note == "2 more"
    assert panel.rows[0]["Robust z"] == "+∞"
    assert panel.rows[0]["Value"] == "$1.00"
