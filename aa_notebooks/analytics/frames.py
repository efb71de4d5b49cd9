"""Query rows to DataFrames with the kit's conventions: UTC-aware times, money as 6-place floats."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import pandas as pd

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
