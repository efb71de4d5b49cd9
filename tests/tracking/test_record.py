"""A record's JSON line, as the journal and the spool store it: every value as JSON or text, one
line with no NUL byte (the journal's reader stops at the first), and read back unchanged; what
orjson refuses is written by the standard library to the same JSON."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace

from aa_notebooks.tracking.record import ExecutionRecord, json_line
from tests.tracking.journaling_agent import record, run_id, start_row


def test_a_record_line_holds_every_value_as_json_or_text() -> None:
    line = record("A").to_line()
    assert line.endswith(b"\n") and line.count(b"\n") == 1 and b"\0" not in line
    ids = {what: str(uuid.uuid5(uuid.NAMESPACE_URL, f"{what}/A")) for what in ("step", "usage")}
    assert json.loads(line) == {
        "execution": {
            "id": str(run_id("A")),
            "user_id": "a11ce000-0000-4000-8000-000000000001",
            "request_id": str(uuid.uuid5(uuid.NAMESPACE_URL, "request/A")),
            "session_id": str(uuid.uuid5(uuid.NAMESPACE_URL, "session")),
            "agent_id": None,
            "agent_name": "agent A",
            "agent_type": "react",
            "model_name": "gpt-4o",
            "flow_id": "support",
            "query_preview": "what is A? ünïcode ✓",
            "started_at": "2025-06-01T10:00:00.250000+00:00",
            "status": "success",
            "input_tokens": 1200,
            "output_tokens": 300,
            "total_tokens": 1500,
            "cost_usd": "0.006000",
            "execution_time_ms": 1500,
            "llm_time_ms": 700,
            "error_type": None,
            "error_message": None,
            "completed_at": "2025-06-01T10:00:01.750000+00:00",
        },
        "traces": [
            {
                "id": ids["step"],
                "execution_id": str(run_id("A")),
                "step_number": 1,
                "step_type": "thought",
                "content": "thought of A\nwith a newline",
                "input_tokens": 1200,
                "output_tokens": 300,
                "duration_ms": 700,
                "timestamp": "2025-06-01T10:00:01.750000+00:00",
            }
        ],
        "usages": [
            {
                "id": ids["usage"],
                "execution_id": str(run_id("A")),
                "component": "main_agent",
                "model": "gpt-4o",
                "input_tokens": 1200,
                "output_tokens": 300,
                "cost_usd": "0.006000",
                "step_number": 1,
            }
        ],
    }
    assert ExecutionRecord.from_json(line) == record("A")
    assert record("A").to_json() == line[:-1].decode()


def test_control_characters_are_escaped_so_a_line_stays_one_line_without_nul() -> None:
    made = record("A")
    step = {**made.traces[0], "content": 'a\x00b\nc\rd\u2028e\tf \\ " é'}
    odd = replace(made, traces=(step,))
    line = odd.to_line()
    assert line.count(b"\n") == 1 and b"\0" not in line and b"\r" not in line
    assert ExecutionRecord.from_json(line) == odd


def test_values_orjson_refuses_are_written_by_the_standard_library() -> None:
    """A count past 64 bits (refused later by the range check, with its reason) and text that is
    not valid Unicode (a lone surrogate) still make a line that reads back unchanged."""
    made = record("A")
    huge = replace(made, execution={**made.execution, "input_tokens": 2**70})
    lone = replace(made, traces=({**made.traces[0], "content": "half \ud800 of a pair"},))
    for odd in (huge, lone):
        line = odd.to_line()
        assert line.endswith(b"}\n") and line.count(b"\n") == 1 and b"\0" not in line
        assert ExecutionRecord.from_json(line) == odd
    assert b'"input_tokens":1180591620717411303424' in huge.to_line()


def test_an_attach_record_and_a_start_line_read_back() -> None:
    made = record("A")
    attached = ExecutionRecord({"id": made.id}, usages=made.usages, attach=True)
    assert ExecutionRecord.from_json(attached.to_line()) == attached
    line = json_line({"start": start_row("A")})
    assert json.loads(line)["start"]["started_at"] == "2025-06-01T10:00:00.250000+00:00"
