"""Results show their window and scope, escape the data in HTML, and have DataFrame views."""

from __future__ import annotations

from aa_notebooks.analytics import Analytics
from tests.analytics.dataset import U1, UNPRICED, E

RAW_SCRIPT = "<script>alert("


def test_html_escapes_agent_names_and_previews(analytics: Analytics) -> None:
    shown = [
        analytics.top_agents()._repr_html_(),
        analytics.executions()._repr_html_(),
        analytics.cost_summary(by="agent")._repr_html_(),
        analytics.execution(E[3])._repr_html_(),
        analytics.agent_stats("<script>alert('agent')</script>")._repr_html_(),
    ]
    for html in shown:
        assert RAW_SCRIPT not in html
        assert "&lt;script&gt;alert(" in html
    detail = analytics.execution(E[3])._repr_html_()
    assert "&lt;b&gt;bold&lt;/b&gt;" in detail and "<b>bold</b>" not in detail


def test_overview_html_text_and_frame(analytics_u1: Analytics) -> None:
    overview = analytics_u1.overview()
    html = overview._repr_html_()
    assert f"user {U1}" in html and "7d [2026-11-18 12:00 – 2026-11-25 12:00] UTC" in html
    assert f"Unpriced models (their executions show $0): {UNPRICED}" in html
    text = str(overview)
    assert text.splitlines()[0].startswith("Overview · 7d")
    assert "Success rate             100.0%" in text
    row = overview.to_frame().iloc[0]
    assert (row["total_executions"], row["success_executions"], row["timeout_executions"]) == (
        5,
        5,
        0,
    )
    assert (row["total_cost_usd"], row["window"], row["unpriced_models"]) == (
        0.011025,
        "7d",
        UNPRICED,
    )


def test_frames_are_copies_and_titles_name_the_window(analytics: Analytics) -> None:
    table = analytics.compare_models("24h")
    frame = table.to_frame()
    frame.loc[0, "executions"] = 999
    assert table.frame.loc[0, "executions"] != 999
    assert "Model comparison · 24h" in table._repr_html_()
    forecast = analytics.cost_forecast()
    assert "Cost forecast for November 2026" in forecast._repr_html_()
    assert "Projected month" in str(forecast)
    assert "trace steps" in str(analytics.execution(E[1]))
