"""Text from the data never becomes markup: `<script>` and `<img onerror>` show as text."""

from __future__ import annotations

import html

import ipywidgets as widgets

from aa_notebooks.analytics import Analytics
from aa_notebooks.ui import Dashboard, TraceExplorer
from tests.ui.conftest import html_of
from tests.ui.dataset import HOSTILE, IMG, SCRIPT, eid


def assert_escaped(widget: widgets.Widget, *expected_places: str) -> str:
    """No hostile text is raw markup anywhere in `widget`; each place holds the escaped text."""
    markup = "\n".join(html_of(widget))
    for raw in HOSTILE:
        assert raw not in markup
    assert "<script" not in markup and "<img" not in markup
    for place in expected_places:
        assert place in markup, place
    return markup


def test_dashboard_panels_escape_everything(dashboard: Dashboard):
    markup = assert_escaped(dashboard.widget, html.escape(IMG))
    assert markup.count(html.escape(IMG)) >= 2  # agent in Top Agents, unpriced model
    assert f"Unpriced models (their calls count as $0): {html.escape(IMG)}" in markup
    assert dashboard.recent.rows(0, 1)[0]["cells"][1] == SCRIPT  # sent as text (textContent)


def test_trace_explorer_escapes_steps_components_and_header(analytics: Analytics):
    trace = TraceExplorer(analytics, eid(1))
    markup = assert_escaped(trace.widget)
    assert trace.header["Query"] == SCRIPT
    assert f"<pre>{html.escape(IMG)}</pre>" in markup  # tool_call content
    assert f"<pre>{html.escape(SCRIPT)}</pre>" in markup  # final_answer content
    assert f"<td>{html.escape(SCRIPT)}</td>" in markup  # a component's name
    assert trace.token_usage[1]["Component"] == SCRIPT


def test_trace_header_escapes_agent_error_and_model(analytics: Analytics):
    failed = TraceExplorer(analytics, eid(3))
    assert_escaped(failed.widget, html.escape(f"ToolError: {SCRIPT}"), html.escape(IMG))
    assert failed.header["Error"] == f"ToolError: {SCRIPT}"
    assert failed.header["Agent"] == IMG
    timed_out = TraceExplorer(analytics, eid(4))
    assert_escaped(timed_out.widget, f"<td>{html.escape(IMG)}</td>")
    assert timed_out.header["Model"] == IMG


def test_opened_trace_inside_the_dashboard_is_escaped(dashboard: Dashboard):
    dashboard.recent.open_execution(str(eid(3)))  # E3: hostile preview, agent and error
    assert dashboard.trace is not None and dashboard.trace.header["Query"] == IMG
    assert_escaped(dashboard.widget, html.escape(f"ToolError: {SCRIPT}"))


def test_export_link_is_escaped(dashboard: Dashboard):
    exported = dashboard.export_csv()
    assert exported is not None
    assert_escaped(dashboard.widget, 'download="agent-executions_7d_all-users_')
