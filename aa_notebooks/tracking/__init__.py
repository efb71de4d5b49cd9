"""The recording side: what agent code calls to log executions, trace steps and token usage.

The data contract's three recording functions (async, with `_sync` twins) write one row each. The
tracker records whole executions: `@track_agent`, `Tracker.execution(...)` as a `with` block,
and `AnalyticsMiddleware` for ASGI apps (it needs the `api` extra, so it is imported on use).
"""

from __future__ import annotations

from typing import Any

from aa_notebooks.tracking.context import current_run
from aa_notebooks.tracking.decorator import track_agent
from aa_notebooks.tracking.defaults import configure, flush, get_tracker
from aa_notebooks.tracking.recording import (
    record_token_usage,
    record_token_usage_sync,
    record_trace_step,
    record_trace_step_sync,
    track_agent_execution,
    track_agent_execution_sync,
)
from aa_notebooks.tracking.run import Run
from aa_notebooks.tracking.shutdown import install as flush_on_signals
from aa_notebooks.tracking.tracker import ExecutionScope, Tracker
from aa_notebooks.tracking.writer import BatchWriter

__all__ = [
    "AnalyticsMiddleware",
    "BatchWriter",
    "ExecutionScope",
    "Run",
    "Tracker",
    "configure",
    "current_run",
    "flush",
    "flush_on_signals",
    "get_tracker",
    "record_token_usage",
    "record_token_usage_sync",
    "record_trace_step",
    "record_trace_step_sync",
    "track_agent",
    "track_agent_execution",
    "track_agent_execution_sync",
]


def __getattr__(name: str) -> Any:
    """Import AnalyticsMiddleware only when asked for: it needs Starlette (the `api` extra)."""
    if name == "AnalyticsMiddleware":
        from aa_notebooks.tracking.middleware import AnalyticsMiddleware

        return AnalyticsMiddleware
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
