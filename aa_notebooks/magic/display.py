"""How the kit's DataFrames show in a notebook: metadata above a readable table.

Frames the kit returns carry their metadata in `attrs` (`analytics.frames.described`); for
those (and only those) the notebook shows the heading (title, window, scope), paging facts and
notes above a table whose money, durations, rates and timestamps are readable. The numbers in
the frame stay raw; other DataFrames keep pandas' own display.
"""

from __future__ import annotations

from collections.abc import Callable
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
