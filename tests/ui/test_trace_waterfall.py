"""`TraceWaterfall` without a browser: rows as sent, marks, expand/collapse, the selected step's
content (JSON indented, text as it is), and an execution's detail from the database."""

from __future__ import annotations

import uuid
from datetime import timedelta

from aa_notebooks.analytics import Analytics
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import AgentExecution, ExecutionTrace, table_of
from aa_notebooks.ui import TraceWaterfall
from aa_notebooks.ui.trace_waterfall import pretty
from tests.ui import dataset
from tests.ui.dataset import IMG, LONG, SCRIPT, eid

NESTED = [
    {"step_number": 1, "step_type": "action", "content": "plan", "duration_ms": 1000},
    {"step_number": 2, "step_type": "thought", "content": '{"b": [1, 2], "a": "<b>"}',
     "duration_ms": 100},
    {"step_number": 3, "step_type": "tool_call", "content": SCRIPT, "duration_ms": 300},
    {"step_number": 4, "step_type": "observation", "content": "x " * 200, "duration_ms": 50},
    {"step_number": 5, "step_type": "final_answer", "content": "done", "duration_ms": 20},
]  # fmt: skip
PARENTS = [None, 1, 1, 3, None]


def test_rows_as_sent_with_marks() -> None:
    wf = TraceWaterfall(NESTED, PARENTS)
    assert wf.total_ms == 1020
    assert [(r["index"], r["parent"], r["depth"], r["children"]) for r in wf.rows] == [
        (0, None, 0, 2), (1, 0, 1, 0), (2, 0, 1, 1), (3, 2, 2, 0), (4, None, 0, 0),
    ]  # fmt: skip
    assert wf.rows[2]["preview"] == SCRIPT  # text, escaped by the browser's textContent
    assert wf.rows[3]["preview"] == ("x " * 60).strip()[:119] + "…"
    assert (wf.rows[1]["duration_text"], wf.rows[1]["tokens"], wf.rows[1]["cost"]) == (
        "100 ms", "–", "–",
    )  # fmt: skip
    assert (wf.slowest, wf.costliest) == (0, -1)  # no usage rows: no cost known


def test_expand_and_collapse() -> None:
    wf = TraceWaterfall(NESTED, PARENTS)
    assert wf.expanded == [0, 4] and wf.visible == [0, 1, 2, 4]  # the nested tool call folded
    wf.expand(2)
    assert wf.visible == [0, 1, 2, 3, 4]
    wf.expand(0, open=False)
    assert wf.visible == [0, 4]  # the whole subtree, grandchildren too
    wf.expanded = [0]  # as the front end sets it: 2 folded again
    assert wf.visible == [0, 1, 2, 4]


def test_the_selected_steps_content() -> None:
    wf = TraceWaterfall(NESTED, PARENTS)
    wf.select(1)
    assert wf.detail == {
        "index": 1,
        "title": "Step 2 · thought · 100 ms",
        "content": '{\n  "b": [\n    1,\n    2\n  ],\n  "a": "<b>"\n}',
        "format": "json",
    }
    wf.selected = 2  # as a click sets it
    assert (wf.detail["content"], wf.detail["format"]) == (SCRIPT, "text")
    wf.select(-1)
    assert wf.detail == {}


def test_an_execution_from_the_database(analytics: Analytics) -> None:
    wf = TraceWaterfall.of(analytics.execution(eid(1)))
    # E1's steps are one second apart (their timestamps), costs from its usage rows
    assert [(r["step"], r["type"], r["start"]) for r in wf.rows] == [
        ("#1", "thought", 0), ("#2", "tool_call", 1000), ("#3", "observation", 2000),
        ("#4", "final_answer", 3000),
    ]  # fmt: skip
    assert [r["cost"] for r in wf.rows] == ["$0.10", "$0.05", "–", "–"]
    assert wf.rows[0]["tokens"] == "30 in / 10 out"
    assert (wf.slowest, wf.costliest, wf.total_ms) == (1, 0, 3150)
    assert [r["preview"] for r in wf.rows][1:] == [IMG, " ".join(LONG.split())[:119] + "…", SCRIPT]
    assert "innerHTML" not in wf._esm and "http" not in wf._esm + wf._css


def test_no_steps() -> None:
    wf = TraceWaterfall([])
    assert (wf.rows, wf.total_ms, wf.slowest, wf.costliest) == ([], 0.0, -1, -1)


def test_an_ingested_execution_nests_by_its_parent_steps(url: str, analytics: Analytics) -> None:
    """Steps stored with parent_step (as OTLP ingest writes them): an agent step holding a
    model call and a tool call, the tool call holding a nested model call; then a root answer."""
    execution = uuid.uuid4()
    steps = [(1, "action", None, 0), (2, "thought", 1, 1), (3, "tool_call", 1, 1),
             (4, "thought", 3, 2), (5, "final_answer", None, 0)]  # fmt: skip
    with get_engine(url).begin() as connection:
        connection.execute(
            table_of(AgentExecution).insert().values(
                id=execution, request_id=execution, session_id=execution, status="success",
                agent_name="ingested", started_at=dataset.NOW - timedelta(hours=1),
            )
        )  # fmt: skip
        connection.execute(
            table_of(ExecutionTrace).insert(),
            [{"id": uuid.uuid4(), "execution_id": execution, "step_number": n, "step_type": kind,
              "parent_step": parent, "depth": depth, "duration_ms": 10} for n, kind, parent, depth
             in steps],
        )  # fmt: skip
    wf = TraceWaterfall.of(analytics.execution(execution))
    assert [(r["step"], r["parent"], r["depth"]) for r in wf.rows] == [
        ("#1", None, 0), ("#2", 0, 1), ("#3", 0, 1), ("#4", 2, 2), ("#5", None, 0),
    ]  # fmt: skip


def test_content_nested_past_what_python_reads_is_shown_as_text() -> None:
    """A tool's JSON nested 5,000 deep: json.loads raised RecursionError, and clicking the
    step showed nothing at all."""
    deep = "[" * 5000 + "]" * 5000
    assert pretty(deep) == (deep, "text")
    assert pretty('{"a": [1, 2]}') == ('{\n  "a": [\n    1,\n    2\n  ]\n}', "json")
