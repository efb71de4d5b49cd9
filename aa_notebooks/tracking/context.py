"""The execution being recorded in the current task or thread, for code deep inside an agent."""

from __future__ import annotations

from contextvars import ContextVar

from aa_notebooks.tracking.run import Run

CURRENT_RUN: ContextVar[Run | None] = ContextVar("aa_notebooks_current_run", default=None)


def current_run() -> Run | None:
    """The run of the innermost tracked execution around this code, or None outside one.

    Request handlers behind `AnalyticsMiddleware` and functions under `@track_agent` use it to
    add steps and token usage: `current_run().step("thought", ...)`.
    """
    return CURRENT_RUN.get()
