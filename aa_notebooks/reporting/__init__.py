"""Reports: papermill cost and budget notebooks, standalone HTML, email and schedules.

`run_report("cost" | "budget", ...)` executes a notebook of `reports/` in a real kernel, exports
it as HTML without code, and optionally emails it; `schedules` and `scheduler` run reports at
cron times. Imports are lazy: a report notebook imports its sections module from this package,
and must not pay for papermill and nbconvert, which only the runner needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aa_notebooks.errors import MissingExtraError

if TYPE_CHECKING:
    from aa_notebooks.reporting.notebooks import REPORT_KINDS
    from aa_notebooks.reporting.runner import ReportResult, run_report

__all__ = ["REPORT_KINDS", "ReportResult", "run_report"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        try:
            from aa_notebooks.reporting import runner
        except ModuleNotFoundError as exc:  # papermill, nbconvert, pyzmq: the notebook extra
            raise MissingExtraError(exc.name or "papermill", "notebook") from None

        return getattr(runner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
