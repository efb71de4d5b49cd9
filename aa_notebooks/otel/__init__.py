"""Ingest OpenTelemetry traces (GenAI conventions, OpenInference) as executions, steps and usage.

`Ingestor` maps spans and writes them through the tracker's batched writer; `SpanExporter` does
it inside an instrumented app (no server); the OTLP receiver of `aa-notebooks serve` and
`aa-notebooks ingest FILE...` use the same mapping. The mapping is documented in docs/otel.md.
"""

from __future__ import annotations

from typing import Any

from aa_notebooks.otel.ingest import Ingestor, Outcome
from aa_notebooks.otel.mapping import Filing, map_trace
from aa_notebooks.otel.spans import Span

__all__ = ["Filing", "Ingestor", "Outcome", "Span", "SpanExporter", "map_trace"]


def __getattr__(name: str) -> Any:
    """Import SpanExporter on use: it needs the OpenTelemetry SDK (the `otel` extra)."""
    if name == "SpanExporter":
        try:
            from aa_notebooks.otel.exporter import SpanExporter
        except ModuleNotFoundError:
            from aa_notebooks.errors import MissingExtraError

            raise MissingExtraError("opentelemetry-sdk", "otel") from None
        return SpanExporter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
