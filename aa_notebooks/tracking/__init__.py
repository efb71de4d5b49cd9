"""The recording side: what agent code calls to log executions, trace steps and token usage."""

from aa_notebooks.tracking.recording import (
    record_token_usage,
    record_token_usage_sync,
    record_trace_step,
    record_trace_step_sync,
    track_agent_execution,
    track_agent_execution_sync,
)

__all__ = [
    "record_token_usage",
    "record_token_usage_sync",
    "record_trace_step",
    "record_trace_step_sync",
    "track_agent_execution",
    "track_agent_execution_sync",
]
