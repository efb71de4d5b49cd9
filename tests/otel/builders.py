"""Hand-made spans for the OTel tests, and the OTLP requests (protobuf, JSON) that carry them.

Times are whole milliseconds after T0 (2026-11-02 10:00:00 UTC), so durations are known by hand.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from aa_notebooks.otel.spans import Event, Span

T0 = datetime(2026, 11, 2, 10, 0, 0, tzinfo=UTC)
T0_NS = int(T0.timestamp()) * 1_000_000_000
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def at(ms: int) -> datetime:
    """T0 plus `ms` milliseconds."""
    return T0 + timedelta(milliseconds=ms)


def span(
    span_id: str,
    parent: str | None,
    name: str,
    start_ms: int,
    end_ms: int,
    trace: str = TRACE,
    error: bool = False,
    events: Sequence[Event] = (),
    scope: str = "test.instrumentation",
    resource: dict[str, Any] | None = None,
    status_message: str = "",
    **attributes: Any,
) -> Span:
    """A span; attribute names use `__` for `.` (gen_ai__operation__name=...)."""
    return Span(
        trace_id=trace,
        span_id=span_id,
        parent_id=parent,
        name=name,
        start_ns=T0_NS + start_ms * 1_000_000,
        end_ns=T0_NS + end_ms * 1_000_000,
        attributes={key.replace("__", "."): value for key, value in attributes.items()},
        events=tuple(events),
        error=error,
        status_message=status_message,
        scope=scope,
        resource=resource or {},
    )


def to_protobuf(spans: Sequence[Span]) -> bytes:
    """An ExportTraceServiceRequest holding the spans (one resource, one scope)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.proto.trace.v1 import trace_pb2

    request = ExportTraceServiceRequest()
    scope_spans = request.resource_spans.add().scope_spans.add()
    scope_spans.scope.name = spans[0].scope if spans else ""
    for item in spans:
        out = scope_spans.spans.add()
        out.trace_id = bytes.fromhex(item.trace_id)
        out.span_id = bytes.fromhex(item.span_id)
        if item.parent_id:
            out.parent_span_id = bytes.fromhex(item.parent_id)
        out.name = item.name
        out.kind = trace_pb2.Span.SPAN_KIND_INTERNAL
        out.start_time_unix_nano = item.start_ns
        out.end_time_unix_nano = item.end_ns
        for key, value in item.attributes.items():
            _pb_set(out.attributes.add(), key, value)
        for event in item.events:
            added = out.events.add()
            added.name, added.time_unix_nano = event.name, event.time_ns
            for key, value in event.attributes.items():
                _pb_set(added.attributes.add(), key, value)
        if item.error:
            out.status.code = trace_pb2.Status.STATUS_CODE_ERROR
            out.status.message = item.status_message
    return request.SerializeToString()


def _pb_set(pair: Any, key: str, value: Any) -> None:
    pair.key = key
    if isinstance(value, bool):
        pair.value.bool_value = value
    elif isinstance(value, int):
        pair.value.int_value = value
    elif isinstance(value, float):
        pair.value.double_value = value
    elif isinstance(value, list):
        for item in value:
            pair.value.array_value.values.add().string_value = item
    else:
        pair.value.string_value = value


def to_json_document(spans: Sequence[Span]) -> dict[str, Any]:
    """The OTLP/JSON form of `to_protobuf` (hex ids, integers as strings where 64-bit)."""
    return {
        "resourceSpans": [{
            "resource": {"attributes": []},
            "scopeSpans": [{
                "scope": {"name": spans[0].scope if spans else ""},
                "spans": [{
                    "traceId": item.trace_id.upper(),
                    "spanId": item.span_id,
                    "parentSpanId": item.parent_id or "",
                    "name": item.name,
                    "kind": 1,
                    "startTimeUnixNano": str(item.start_ns),
                    "endTimeUnixNano": item.end_ns,
                    "attributes": [_json_pair(k, v) for k, v in item.attributes.items()],
                    "events": [
                        {"name": e.name, "timeUnixNano": str(e.time_ns),
                         "attributes": [_json_pair(k, v) for k, v in e.attributes.items()]}
                        for e in item.events
                    ],
                    "status": {"code": 2, "message": item.status_message} if item.error else {},
                } for item in spans],
            }],
        }],
    }  # fmt: skip


def to_json(spans: Sequence[Span]) -> bytes:
    """`to_json_document` as bytes."""
    return json.dumps(to_json_document(spans)).encode()


def _json_pair(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        wrapped: dict[str, Any] = {"boolValue": value}
    elif isinstance(value, int):
        wrapped = {"intValue": str(value)}
    elif isinstance(value, float):
        wrapped = {"doubleValue": value}
    elif isinstance(value, list):
        wrapped = {"arrayValue": {"values": [{"stringValue": v} for v in value]}}
    else:
        wrapped = {"stringValue": value}
    return {"key": key, "value": wrapped}


def exception(kind: str, message: str, ms: int) -> Event:
    """An exception event at T0 + ms."""
    return Event(
        "exception", T0_NS + ms * 1_000_000, {"exception.type": kind, "exception.message": message}
    )


def genai_run(trace: str = TRACE, user: str | None = None) -> list[Span]:
    """A GenAI-convention agent run (root first), 0-1000 ms:

    invoke_agent "Weather" (0-1000)
      chat gpt-4o-mini (10-210): 1000 in (400 cache read, 100 cache write), 200 out; asks a tool
      execute_tool get_weather (220-320): {"city": "Paris"} -> "sunny"
      chat gpt-4o (330-630): 1500 in, 100 out; answers
    plus an HTTP client span under the tool (230-300), ignored.
    """
    attributes = {"user__id": user} if user else {}
    return [
        span("a000000000000001", None, "invoke_agent Weather", 0, 1000, trace,
             gen_ai__operation__name="invoke_agent", gen_ai__agent__name="Weather",
             session__id="chat-42", **attributes),
        span("a000000000000002", "a000000000000001", "chat gpt-4o-mini", 10, 210, trace,
             gen_ai__operation__name="chat", gen_ai__request__model="gpt-4o-mini",
             gen_ai__response__model="gpt-4o-mini-2024-07-18",
             gen_ai__usage__input_tokens=1000, gen_ai__usage__output_tokens=200,
             gen_ai__usage__cache_read__input_tokens=400,
             gen_ai__usage__cache_creation__input_tokens=100,
             gen_ai__input__messages=json.dumps([
                 {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
                 {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
             ]),
             gen_ai__output__messages=json.dumps([{"role": "assistant", "parts": [
                 {"type": "tool_call", "name": "get_weather", "arguments": {"city": "Paris"}}]}])),
        span("a000000000000003", "a000000000000001", "execute_tool get_weather", 220, 320, trace,
             gen_ai__operation__name="execute_tool", gen_ai__tool__name="get_weather",
             gen_ai__tool__call__arguments='{"city": "Paris"}',
             gen_ai__tool__call__result="sunny"),
        span("a000000000000004", "a000000000000003", "GET", 230, 300, trace,
             http__request__method="GET"),
        span("a000000000000005", "a000000000000001", "chat gpt-4o", 330, 630, trace,
             gen_ai__operation__name="chat", gen_ai__request__model="gpt-4o",
             gen_ai__usage__input_tokens=1500, gen_ai__usage__output_tokens=100,
             gen_ai__output__messages=json.dumps([{"role": "assistant", "parts": [
                 {"type": "text", "content": "Sunny in Paris."}]}])),
    ]  # fmt: skip
