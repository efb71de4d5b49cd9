"""The trace explorer shows an ingested run's nesting: a step inside a nested agent is
indented under it; a recorded run's steps carry no depth."""

from __future__ import annotations

import re

from aa_notebooks.analytics import connect
from aa_notebooks.otel.ingest import Ingestor
from aa_notebooks.otel.mapping import execution_id
from aa_notebooks.ui import TraceExplorer
from tests.otel.builders import TRACE, span
from tests.ui.conftest import html_of

NESTED = [
    span("b000000000000001", None, "Planner", 0, 900, openinference__span__kind="AGENT"),
    span("b000000000000002", "b000000000000001", "ChatCompletion", 10, 110,
         openinference__span__kind="LLM", llm__model_name="gpt-4o-mini",
         output__value="Asking the booker."),
    span("b000000000000003", "b000000000000001", "Booker", 120, 600,
         openinference__span__kind="AGENT"),
    span("b000000000000004", "b000000000000003", "ChatCompletion", 130, 330,
         openinference__span__kind="LLM", llm__model_name="gpt-4o", output__value="Booked."),
]  # fmt: skip


def test_nested_steps_are_indented_under_their_agent(db_url: str, tmp_path) -> None:
    ingestor = Ingestor(db_url, spool_dir=tmp_path)
    ingestor.ingest(NESTED)
    ingestor.close()
    trace = TraceExplorer(connect(db_url), execution_id(TRACE, "b000000000000001"))
    assert [(s["Type"], s["Content"], s["Depth"]) for s in trace.steps] == [
        ("thought", "Asking the booker.", "0"),
        ("action", "agent Booker", "0"),
        ("final_answer", "Booked.", "1"),
    ]
    markup = "\n".join(html_of(trace.widget))
    assert re.findall(r'data-step-type="([a-z_]+)" style="[^"]*" data-depth="(\d)"', markup) == [
        ("thought", "0"), ("action", "0"), ("final_answer", "1"),
    ]  # fmt: skip
    assert markup.count("margin-left:1.5em") == 1


def test_a_recorded_runs_steps_have_no_depth(analytics) -> None:  # the UI dataset's run
    from tests.ui.dataset import eid

    trace = TraceExplorer(analytics, eid(1))
    assert all("Depth" not in step for step in trace.steps)
    depths = re.findall(r'data-depth="(\d)"', "\n".join(html_of(trace.widget)))
    assert depths == ["0"] * 4
