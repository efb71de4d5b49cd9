"""`SpanExporter`: the OpenTelemetry SDK's exporter interface, writing spans as executions.

For an app that wants no server: add it to the SDK's TracerProvider (in a BatchSpanProcessor)
and its instrumented agents are recorded in the kit's database through the tracker's durable
batched writer (spooled on disk while the database is down). Needs the `otel` extra.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter as SdkSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import StatusCode
from sqlalchemy.engine import URL

from aa_notebooks.errors import InvalidInputError
from aa_notebooks.otel.ingest import HOLD_S, Ingestor, Saturated
from aa_notebooks.otel.spans import Event, Span, SpanError, checked_span


class SpanExporter(SdkSpanExporter):
    """Maps finished spans to executions, steps and token usage in the kit's database."""

    def __init__(
        self,
        url: str | URL | None = None,
        *,
        user_id: uuid.UUID | str | None = None,
        spool_dir: str | Path | None = None,
        hold_s: float = HOLD_S,
    ) -> None:
        """`url` as everywhere in the kit; `user_id` files every execution under that user
        (else the spans' `user.id`/`enduser.id`); `hold_s` is how long a trace missing its agent
        span waits for it."""
        try:
            self.user_id = uuid.UUID(str(user_id)) if user_id is not None else None
        except ValueError:
            raise InvalidInputError(f"user_id must be a UUID, got {user_id!r}") from None
        self.ingestor = Ingestor(url, spool_dir=spool_dir, hold_s=hold_s)
        self.ingestor.start_sweeper()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Map and hand the spans to the writer (spans that cannot be used are skipped)."""
        usable = []
        for span in spans:
            try:
                usable.append(checked_span(from_sdk(span)))
            except SpanError:
                continue
        try:
            self.ingestor.ingest(usable, self.user_id)
        except Saturated:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Wait until what was exported is committed (or spooled)."""
        return self.ingestor.flush(timeout_millis / 1000)

    def shutdown(self) -> None:
        """Write what is pending and stop (held traces stay staged for the next start)."""
        self.ingestor.close()


def from_sdk(span: ReadableSpan) -> Span:
    """The `Span` value of an SDK span."""
    context, parent = span.get_span_context(), span.parent
    if context is None:
        raise SpanError(f"span {span.name!r} has no span context")
    scope = span.instrumentation_scope
    return Span(
        trace_id=f"{context.trace_id:032x}",
        span_id=f"{context.span_id:016x}",
        parent_id=None if parent is None else f"{parent.span_id:016x}",
        name=span.name,
        start_ns=span.start_time or 0,
        end_ns=span.end_time or 0,
        attributes=_plain(span.attributes),
        events=tuple(
            Event(event.name, event.timestamp, _plain(event.attributes)) for event in span.events
        ),
        error=span.status.status_code is StatusCode.ERROR,
        status_message=span.status.description or "",
        remote_parent=bool(parent is not None and parent.is_remote),
        scope=scope.name if scope is not None else "",
        resource=_plain(span.resource.attributes),
    )


def _plain(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """Attributes with sequences as lists (as the OTLP decoders give them)."""
    return {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in (attributes or {}).items()
    }
