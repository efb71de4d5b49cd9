"""Readable notebook tables for the kit's DataFrames, keeping the raw numbers in the frame.

Frames the kit returns carry `attrs["aa_notebooks"]`; for those (and only those) the HTML
shown in the notebook formats money, durations, rates and timestamps. Other DataFrames keep
pandas' own display.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from aa_notebooks.formatting import readable_frame

MARK = "aa_notebooks"


def mark_readable(frame: pd.DataFrame) -> pd.DataFrame:
    """Flag a frame so the notebook shows it in readable form."""
    frame.attrs[MARK] = True
    return frame


def register_readable_frames(ipython: Any, timezone: Callable[[], str]) -> None:
    """Install the HTML formatter for flagged frames."""
    formatter = ipython.display_formatter.formatters["text/html"]

    def to_html(frame: pd.DataFrame) -> str | None:
        if not frame.attrs.get(MARK):
            return None  # falls back to pandas' own representation
        return readable_frame(frame, timezone()).to_html(index=False, escape=True, max_rows=200)

    formatter.for_type(pd.DataFrame, to_html)
