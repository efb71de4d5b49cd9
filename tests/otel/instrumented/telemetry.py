"""The OTel SDK set up as an instrumented app does it: spans exported over OTLP/HTTP to the
endpoint and with the headers of the standard OTEL_EXPORTER_OTLP_TRACES_* variables."""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def provider() -> TracerProvider:
    """A tracer provider exporting in batches through the standard OTLP/HTTP exporter."""
    made = TracerProvider()
    made.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return made
