"""Query rows to DataFrames with the kit's conventions: UTC-aware times, money as 6-place floats,
and the result's metadata (title, window, scope, notes) in `attrs`."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import pandas as pd

from aa_notebooks.analytics.periods import Window

FLOAT_PLACES = 6


def rounded(value: float | Decimal | None) -> float | None:
    """A float rounded to 6 places (None stays None: unknown is not zero)."""
    return None if value is None else round(float(value), FLOAT_PLACES)


def ratio(part: float | Decimal, whole: float | Decimal, scale: int = 1) -> float | None:
    """`part / whole * scale` rounded to 6 places, or None when `whole` is zero."""
    return None if not whole else rounded(float(part) / float(whole) * scale)


def to_frame(
    records: Iterable[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    times: Sequence[str] = (),
    money: Sequence[str] = (),
    floats: Sequence[str] = (),
) -> pd.DataFrame:
    """A DataFrame of `records` with exactly `columns`; UUIDs become text.

    `times` columns become tz-aware UTC timestamps, `money` columns (Decimal) 6-place floats,
    and `floats` columns float64 (None as NaN, even when a column has no value at all).
    """
    frame = pd.DataFrame.from_records(
        [{name: _plain(record.get(name)) for name in columns} for record in records],
        columns=list(columns),
    )
    for name in times:
        frame[name] = pd.to_datetime(frame[name], utc=True)
    for name in money:
        frame[name] = frame[name].map(rounded).astype("float64")
    for name in floats:
        frame[name] = frame[name].astype("float64")
    return frame


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, uuid.UUID) else value


READABLE = "aa_notebooks"
"""The `attrs` key that marks a frame as the kit's: the notebook shows it in readable form."""


def described(
    frame: pd.DataFrame,
    title: str,
    *,
    scope: str | None = None,
    window: Window | None = None,
    notes: Sequence[str] = (),
    **facts: str | int | None,
) -> pd.DataFrame:
    """`frame` with the kit's metadata in `frame.attrs`, as plain JSON-ready values.

    Keys: `title`, `scope`, `window` (its label) with `window_start`/`window_end` (ISO 8601) and
    `window_end_inclusive`, `notes` (warnings such as unpriced models), `rows` (the row count
    the kit produced), and any `facts` given (e.g. `total`, `page`, `pages`). JSON-ready because
    pandas writes attrs into Parquet files as JSON.
    """
    meta: dict[str, Any] = {READABLE: True, "title": title}
    if scope is not None:
        meta["scope"] = scope
    if window is not None:
        meta.update(
            window=window.label,
            window_start=window.start.isoformat(),
            window_end=window.end.isoformat(),
            window_end_inclusive=window.end_inclusive,
        )
    meta["notes"] = list(notes)
    meta["rows"] = len(frame)
    meta.update(facts)
    frame.attrs.update(meta)
    return frame


def window_of(attrs: Mapping[str, Any]) -> Window | None:
    """The window that `described` recorded in a frame's attrs, or None."""
    if "window_start" not in attrs:
        return None
    return Window(
        datetime.fromisoformat(attrs["window_start"]),
        datetime.fromisoformat(attrs["window_end"]),
        bool(attrs.get("window_end_inclusive")),
        str(attrs.get("window", "")),
    )
