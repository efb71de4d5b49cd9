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
    assert f"Unpriced models (their calls count as $0): {UNPRICED}" in html
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
    assert row["stored_unpriced"] == ""  # none; it read "()"


def test_frames_are_copies_and_titles_name_the_window(analytics: Analytics) -> None:
    table = analytics.compare_models("24h")
    frame = table.to_frame()
    frame.loc[0, "executions"] = 999
    assert table.frame.loc[0, "executions"] != 999
    assert "Model comparison · 24h" in table._repr_html_()
    forecast = analytics.cost_forecast()
    assert "Cost forecast for November 2026" in forecast._repr_html_()
    assert "Projected month" in str(forecast)


def test_execution_text_shows_its_steps_and_token_usage(analytics: Analytics) -> None:
    text = str(analytics.execution(E[1]))
    steps_at, usage_at = text.index("\nTrace steps (4)\n"), text.index("\nToken usage (2)\n")
    steps = text[steps_at:usage_at].splitlines()[2:]
    assert [line.split()[:2] for line in steps[1:]] == [
        ["1", "thought"], ["2", "tool_call"], ["3", "observation"], ["4", "final_answer"],
    ]  # fmt: skip
    assert "calculator(6*7)" in steps[2] and "200 ms" in steps[2]
    usage = text[usage_at:].splitlines()[2:]
    assert usage[0].split() == ["component", "model", "step_number", "input_tokens",
                                "output_tokens", "cost_usd"]  # fmt: skip
    assert [line.split() for line in usage[1:]] == [
        ["main_agent", "gpt-4o", "1", "60", "45", "$0.001"],
        ["tool_call", "gpt-4o", "2", "40", "5", "$0.0005"],
    ]
    empty = str(analytics.execution(E[8]))  # E08 recorded no steps and no usage
    assert "Trace steps (0)\n  none recorded" in empty
    assert "Token usage (0)\n  none recorded" in empty


def test_list_results_have_short_reprs_and_frames_with_metadata(analytics: Analytics) -> None:
    page = analytics.executions(page_size=3)
    heading = "Executions · 7d [2026-11-18 12:00 – 2026-11-25 12:00] UTC · all users"
    assert repr(page) == f"<ExecutionPage {heading}, 3 rows>"
    frame = page.to_frame()
    assert {k: frame.attrs[k] for k in ("title", "window", "scope", "total", "pages")} == {
        "title": "Executions", "window": "7d", "scope": "all users", "total": 8, "pages": 3,
    }  # fmt: skip
    assert str(page).splitlines()[:3] == [heading, "  Page                 1 of 3",
                                          "  Matching executions  8"]  # fmt: skip
    past = analytics.executions(page_size=3, page=999)
    assert str(past).splitlines()[1] == "  Page                 999 of 3 (past the last page, 3)"
    none = analytics.executions(status="timeout", period="1h")
    assert str(none).splitlines()[1:3] == ["  Page                 1 of 1",
                                           "  Matching executions  0"]  # fmt: skip
    costs = analytics.cost_summary(by="model")
    assert repr(costs).startswith("<Table Cost by model · 7d [") and repr(costs).endswith(
        "all users, 3 rows>"
    )
    assert costs.to_frame().attrs["notes"] == [
        f"Unpriced models (their calls count as $0): {UNPRICED}",
        "Cost coverage: 58.7% of tokens are priced by a known price",  # 2,135 of 3,635
    ]
    assert repr(analytics.overview()) == "<Overview 7d, all users: 8 executions, $0.02>"
