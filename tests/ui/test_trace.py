"""The trace explorer: header, steps in order with distinct types, the waterfall, token usage."""

from __future__ import annotations

import re

from aa_notebooks.analytics import Analytics
from aa_notebooks.ui import TraceExplorer
from aa_notebooks.ui.markup import STEP_COLORS
from tests.ui.conftest import html_of
from tests.ui.dataset import IMG, LONG, SCRIPT, eid


def test_header(analytics: Analytics):
    trace = TraceExplorer(analytics, eid(1))
    assert trace.header == {
        "Status": "success",
        "Agent": "planner",
        "Model": "gpt-4o",
        "Duration": "1.00 s",
        "Tokens": "150 (in 100 / out 50)",
        "Cost": "$0.15",
        "Started": "2026-11-25 11:00:00 UTC",
        "Query": SCRIPT,
    }
    failed = TraceExplorer(analytics, eid(3))
    assert failed.header["Status"] == "failure"
    assert failed.header["Error"] == f"ToolError: {SCRIPT}"


def test_steps_in_order_with_type_duration_and_tokens(analytics: Analytics):
    trace = TraceExplorer(analytics, eid(1))
    detail = analytics.execution(eid(1))
    assert (
        [int(s["Step"]) for s in trace.steps] == list(detail.traces["step_number"]) == [1, 2, 3, 4]
    )
    assert trace.steps[0] == {
        "Step": "1",
        "Type": "thought",
        "Content": "I should call the calculator",
        "Duration": "100 ms",
        "Tokens": "30 in / 10 out",
    }
    assert [s["Content"] for s in trace.steps[1:]] == [IMG, LONG, SCRIPT]


def test_step_types_are_visibly_distinct(analytics: Analytics):
    markup = "\n".join(html_of(TraceExplorer(analytics, eid(1)).widget))
    found = re.findall(r'data-step-type="([a-z_]+)" style="border-color:(#[0-9a-f]{6})"', markup)
    assert found == [(t, STEP_COLORS[t]) for t in ("thought", "tool_call", "observation",
                                                   "final_answer")]  # fmt: skip
    assert len(set(STEP_COLORS.values())) == len(STEP_COLORS)
    for kind in ("thought", "tool_call", "observation", "final_answer"):
        assert f'background:{STEP_COLORS[kind]}">{kind}</span>' in markup


def test_long_content_is_collapsible(analytics: Analytics):
    markup = "\n".join(html_of(TraceExplorer(analytics, eid(1)).widget))
    assert markup.count('<details class="aa-long">') == 1  # only the long observation
    folded = markup[markup.index('<details class="aa-long">') : markup.index("</details>")]
    assert f"({len(LONG):,} characters, click to expand)" in folded
    assert f"<pre>{LONG}</pre>" in folded


def test_waterfall_and_token_usage(analytics: Analytics):
    trace = TraceExplorer(analytics, eid(1))
    assert trace.waterfall is not None and trace.waterfall in trace.widget.children[1].children
    assert [(r["step"], r["type"], r["duration"]) for r in trace.waterfall.rows] == [
        ("#1", "thought", 100), ("#2", "tool_call", 200), ("#3", "observation", 50),
        ("#4", "final_answer", 150),
    ]  # fmt: skip
    assert trace.token_usage == [
        {"Component": "main_agent", "Model": "gpt-4o", "Step": "1", "Input Tokens": "60",
         "Output Tokens": "45", "Cost": "$0.10"},
        {"Component": SCRIPT, "Model": "gpt-4o", "Step": "2", "Input Tokens": "40",
         "Output Tokens": "5", "Cost": "$0.05"},
    ]  # fmt: skip
    assert trace.usage_chart.chart is not None
    assert "application/vnd.jupyter.widget-view+json" in trace._repr_mimebundle_()
