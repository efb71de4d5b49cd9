"""CSV that a spreadsheet cannot run: the one rule every CSV the kit writes follows (CWE-1236).

Agent text can hold anything, and a spreadsheet runs a cell that starts with `=`, `+`, `-`, `@`,
a tab or a carriage return as a formula (`=HYPERLINK(...)`, `+cmd|...`). Such text cells, and
such column names, get a leading `'`, which spreadsheets show as text. Only text is changed:
numbers (a negative number included), times and ids are written as they are. The opt-out,
`escape_formulas=False`, is for CSV that goes back into pandas rather than to a person.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

import numpy as np
import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def escape_formula(text: str) -> str:
    """`text` with a leading `'` when a spreadsheet would evaluate it as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def neutralise(value: Any) -> Any:
    """A cell value made safe: text through `escape_formula`, anything else unchanged."""
    return escape_formula(value) if isinstance(value, str) else value


def positional(value: float | Decimal) -> str:
    """A number in plain digits, never in exponent form: `0.000001`, not `1e-06`, for a cost of
    a millionth of a dollar (a spreadsheet's locale or a reader's eye can take `1e-06` as text).
    The shortest digits that read back as the same float (a Decimal as its float, as before)."""
    return str(np.format_float_positional(float(value), trim="0"))


def frame_to_csv(frame: pd.DataFrame, *, escape_formulas: bool = True) -> str:
    """`frame` as CSV text without the index, its text cells and column names neutralised.

    Floats are written in plain digits (`positional`), times in ISO 8601 as `export` writes them
    (`2026-12-07T00:34:02.211000+00:00`). Lines end in `\n`; when a text cell holds
    a carriage return, in `\r\n` (RFC 4180's), as only the line end's characters make the writer
    quote a cell: a lone `\r` left unquoted reads as the end of a row in pandas and the csv
    module."""
    carriage_return = any(
        isinstance(value, str) and "\r" in value
        for position in range(frame.shape[1])
        if not pd.api.types.is_numeric_dtype(frame.iloc[:, position])
        for value in frame.iloc[:, position]
    )
    frame = frame.copy()
    for position in range(frame.shape[1]):
        series = frame.iloc[:, position]
        if pd.api.types.is_datetime64_any_dtype(series):
            frame.isetitem(position, series.map(pd.Timestamp.isoformat, na_action="ignore"))
    if escape_formulas:
        for position in range(frame.shape[1]):
            series = frame.iloc[:, position]
            if isinstance(series.dtype, pd.CategoricalDtype):
                series = series.astype(object)
            if pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series):
                frame.isetitem(position, series.map(neutralise, na_action="ignore"))
        frame.columns = [neutralise(column) for column in frame.columns]
    ending = "\r\n" if carriage_return else "\n"
    text = frame.to_csv(index=False, lineterminator=ending, float_format=positional)
    return cast(str, text)  # pandas is untyped here
