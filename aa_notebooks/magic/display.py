"""How the kit's DataFrames and records show in a notebook: metadata above a readable table.

Frames the kit returns carry their metadata in `attrs` (`analytics.frames.described`); for
those (and only those) the notebook shows the heading (title, window, scope), paging facts and
notes above a table whose money, durations, rates and timestamps are readable. The numbers in
the frame stay raw; other DataFrames keep pandas' own display. Records that the CLI prints as
text (a repricing, a budget, a backtest, a report made...) show that text, not their dataclass
repr, in a terminal and, where they have no HTML of their own, in a notebook.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

import pandas as pd

from aa_notebooks.analytics.frames import READABLE
from aa_notebooks.analytics.render import frame_html, frame_text

MAX_ROWS = 200


def register_readable_frames(ipython: Any, timezone: Callable[[], str]) -> None:
    """Install the HTML and plain-text formatters for the kit's frames."""
    formatters = ipython.display_formatter.formatters

    def to_html(frame: pd.DataFrame) -> str | None:
        if not frame.attrs.get(READABLE):
            return str(frame._repr_html_())  # pandas' own table
        return frame_html(frame, timezone(), MAX_ROWS)

    def to_text(frame: pd.DataFrame, printer: Any, cycle: bool) -> None:
        readable = frame.attrs.get(READABLE)
        printer.text(frame_text(frame, timezone(), MAX_ROWS) if readable else repr(frame))

    formatters["text/html"].for_type(pd.DataFrame, to_html)
    formatters["text/plain"].for_type(pd.DataFrame, to_text)


SHOWN_AS_TEXT = (
    ("aa_notebooks.tracking.reprice", "Repricing"),
    ("aa_notebooks.budgets.model", "Budget"),
    ("aa_notebooks.budgets.evaluation", "Evaluation"),
    ("aa_notebooks.budgets.backtest", "BudgetBacktest"),
    ("aa_notebooks.budgets.status", "BudgetStatusList"),
    ("aa_notebooks.reporting.runner", "ReportResult"),
    ("aa_notebooks.db.rollups.check", "CheckReport"),
    ("aa_notebooks.db.rollups.rebuild", "RebuildReport"),
    ("aa_notebooks.seed.report", "SeedReport"),
)
"""The records shown as their text, by module and class (registered without importing them)."""


def register_readable_records(ipython: Any) -> None:
    """Install the plain-text formatter (and HTML, where a record has none) for SHOWN_AS_TEXT."""
    formatters = ipython.display_formatter.formatters

    def to_text(record: Any, printer: Any, cycle: bool) -> None:
        printer.text(str(record))

    def to_html(record: Any) -> str:
        own = getattr(record, "_repr_html_", None)
        return str(own()) if own is not None else f"<pre>{escape(str(record))}</pre>"

    for module, name in SHOWN_AS_TEXT:
        formatters["text/plain"].for_type_by_name(module, name, to_text)
        formatters["text/html"].for_type_by_name(module, name, to_html)
