"""Span values: what the mapping needs of an OpenTelemetry span, whatever encoding it came in.

Decoders (OTLP protobuf, OTLP JSON, the SDK's own spans) all produce `Span`s, so the mapping is
written once. Ids are lower-case hex, as OTLP/JSON writes them: 32 digits for a trace, 16 for a
span. Attribute values keep their OTLP types (str, bool, int, float, bytes, lists, dicts). A span
also serialises to a JSON-able dict (`to_document`) for the staging table.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

INVALID_TRACE_ID = "0" * 32
INVALID_SPAN_ID = "0" * 16
_HEX_DIGITS = "0123456789abcdef"


class SpanError(ValueError):
    """One span cannot be used (bad ids, times or types); the others of its request can."""


@dataclass(frozen=True, slots=True)
class Event:
    """A span event (an exception, a log line): its name, time and attributes."""

    name: str
    time_ns: int
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Span:
    """One finished span, decoded."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    start_ns: int
    end_ns: int
    attributes: Mapping[str, Any]
    events: tuple[Event, ...] = ()
    error: bool = False
    """The span's status is ERROR."""
    status_message: str = ""
    remote_parent: bool = False
    """The parent is in another process: this span is the top of what this process exports."""
    scope: str = ""
    """The instrumentation scope's name (which library made the span)."""
    resource: Mapping[str, Any] = field(default_factory=dict)

    def attribute(self, *names: str) -> Any:
        """The first of `names` the span (else its resource) has, or None."""
        for name in names:
            value = self.attributes.get(name)
            if value is not None:
                return value
        for name in names:
            value = self.resource.get(name)
            if value is not None:
                return value
        return None

    @property
    def is_top(self) -> bool:
        """No parent in this trace's spans can be expected: a root, or a remote parent's child."""
        return self.parent_id is None or self.remote_parent

    def to_document(self) -> dict[str, Any]:
        """A JSON-able dict of the span (bytes values as lists of ints are not expected here:
        decoders turn bytes into hex text)."""
        return {
            "t": self.trace_id, "s": self.span_id, "p": self.parent_id, "n": self.name,
            "b": self.start_ns, "e": self.end_ns, "a": dict(self.attributes),
            "v": [[event.name, event.time_ns, dict(event.attributes)] for event in self.events],
            "x": self.error, "m": self.status_message, "r": self.remote_parent,
            "c": self.scope, "R": dict(self.resource),
        }  # fmt: skip

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Span:
        """The span a `to_document` dict holds."""
        return cls(
            trace_id=document["t"], span_id=document["s"], parent_id=document["p"],
            name=document["n"], start_ns=document["b"], end_ns=document["e"],
            attributes=document["a"],
            events=tuple(Event(name, time, attrs) for name, time, attrs in document["v"]),
            error=document["x"], status_message=document["m"], remote_parent=document["r"],
            scope=document["c"], resource=document["R"],
        )  # fmt: skip


EARLIEST_NS = 946_684_800 * 1_000_000_000
"""2000-01-01 UTC in Unix nanoseconds: no span of an LLM agent starts before it."""
LATEST_AHEAD_NS = 86_400 * 1_000_000_000
"""How far past this host's clock a span may end (another host's clock may run ahead)."""


def checked_span(span: Span) -> Span:
    """The span, or SpanError saying what makes it unusable."""
    if not _is_hex(span.trace_id, 32) or span.trace_id == INVALID_TRACE_ID:
        raise SpanError(f"span {span.name!r}: trace id must be 16 bytes, not all zero")
    if not _is_hex(span.span_id, 16) or span.span_id == INVALID_SPAN_ID:
        raise SpanError(f"span {span.name!r}: span id must be 8 bytes, not all zero")
    if span.parent_id is not None and not _is_hex(span.parent_id, 16):
        raise SpanError(f"span {span.name!r}: parent span id must be 8 bytes")
    if span.start_ns <= 0 or span.end_ns < span.start_ns:
        raise SpanError(f"span {span.name!r}: needs a start time and an end time not before it")
    if span.start_ns < EARLIEST_NS or span.end_ns > time.time_ns() + LATEST_AHEAD_NS:
        raise SpanError(
            f"span {span.name!r}: its times must lie between 2000-01-01 and a day from now "
            "(a clock that far off would file its run years away)"
        )
    return span


def _is_hex(text: str, length: int) -> bool:
    return len(text) == length and not text.strip(_HEX_DIGITS)
