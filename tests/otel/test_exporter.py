"""`aa_notebooks.otel.SpanExporter` in the real OTel SDK: spans made by a tracer become the
execution, with no server (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

from aa_notebooks.analytics import connect
from aa_notebooks.otel import SpanExporter

USER = uuid.UUID("11111111-2222-4333-8444-555555555555")


def test_spans_of_the_sdk_become_an_execution_filed_under_the_user(db_url: str, tmp_path) -> None:
    exporter = SpanExporter(db_url, user_id=USER, spool_dir=tmp_path)
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("my-agent")
    with tracer.start_as_current_span(
        "invoke_agent Planner",
        attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "Planner"},
    ) as agent:
        with tracer.start_as_current_span("chat gpt-4o", attributes={
            "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 100,
            "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [
                {"type": "text", "content": "Plan a trip"}]}]),
        }):  # fmt: skip
            pass
        with tracer.start_as_current_span("execute_tool book", attributes={
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "book",
        }) as tool:  # fmt: skip
            tool.set_status(Status(StatusCode.ERROR, "no seats"))
        agent.record_exception(TimeoutError("the booking service timed out"))
        agent.set_status(Status(StatusCode.ERROR, "timed out"))
    provider.shutdown()  # exports, then shuts the exporter down (its writer flushed)

    analytics = connect(db_url)
    [row] = analytics.executions().rows.to_dict("records")
    detail = analytics.execution(row["id"])
    execution = detail.execution
    assert (execution["agent_name"], execution["user_id"], execution["status"]) == (
        "Planner", USER, "timeout",
    )  # fmt: skip
    assert (execution["error_type"], execution["error_message"]) == (
        "TimeoutError", "the booking service timed out",
    )  # fmt: skip
    assert (execution["input_tokens"], execution["output_tokens"]) == (1000, 100)
    # gpt-4o: $2.50 per million input tokens, $10 per million output tokens
    assert Decimal(str(execution["cost_usd"])) == Decimal("0.0035")
    assert execution["query_preview"] == "Plan a trip"
    assert list(detail.traces["step_type"]) == ["thought", "tool_call"]  # failed: no answer


def test_a_user_id_that_is_not_a_uuid_is_one_clear_line(db_url: str) -> None:
    import pytest

    from aa_notebooks.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match=r"^user_id must be a UUID, got 'alice'$"):
        SpanExporter(db_url, user_id="alice")
