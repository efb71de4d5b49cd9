"""Printing a command's result in the terminal as a table, JSON or CSV.

CSV goes through `aa_notebooks.csvsafe`, so no cell a spreadsheet would run as a formula is
printed as it is; JSON keeps the values as recorded (it is for programs, not spreadsheets).
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd

from aa_notebooks.analytics.render import frame_text
from aa_notebooks.csvsafe import frame_to_csv
from aa_notebooks.errors import InvalidInputError

FORMATS = ("table", "json", "csv")


def _frame_of(result: Any) -> pd.DataFrame | None:
    if isinstance(result, pd.DataFrame):
        return result
    to_frame = getattr(result, "to_frame", None)
    return to_frame() if callable(to_frame) else None


def _unique(names: list[Any]) -> list[str]:
    """Column names as JSON keys, each once: a second `id` (an ad hoc join's) is `id.1`, as
    pandas names a repeated CSV column."""
    seen: dict[str, int] = {}
    unique = []
    for name in map(str, names):
        count = seen.get(name, 0)
        seen[name] = count + 1
        unique.append(name if count == 0 else f"{name}.{count}")
    return unique


def _plain(value: Any) -> Any:
    """JSON-ready values: a result's money as exact strings, times as ISO 8601, frames as
    records (their money as numbers, on either database)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, pd.DataFrame):
        named = value.set_axis(_unique(list(value.columns)), axis="columns")
        mixed = [
            name
            for name, kind in named.dtypes.items()
            if pd.api.types.is_object_dtype(kind) or pd.api.types.is_datetime64_any_dtype(kind)
        ]
        if mixed:
            named = named.assign(**{name: named[name].map(_cell) for name in mixed})
        return json.loads(named.to_json(orient="records", date_format="iso"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def json_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """One row as a frame's JSON record is (`--format json` of a table): money as numbers,
    times in ISO 8601, ids as text."""
    return {name: _number(value) if isinstance(value, Decimal) else _plain(value)
            for name, value in row.items()}  # fmt: skip


def _cell(value: Any) -> Any:
    """A frame's cell as `json_row` writes it: money as a number, a time in full (pandas' own
    ISO form keeps milliseconds only and writes a date as midnight), an id as text."""
    if isinstance(value, Decimal):
        return _number(value)
    if value is pd.NaT:
        return None
    if isinstance(value, datetime | date | uuid.UUID):
        return _plain(value)
    return value


def _number(value: Any) -> Any:
    """A table's Decimal (PostgreSQL's NUMERIC) as a JSON number, as SQLite's REAL is, when a
    float holds it exactly; past that (more than 15 digits), its exact text."""
    if isinstance(value, Decimal) and value.is_finite():
        number = float(value)
        if Decimal(repr(number)) == value:
            return number
        return str(value)
    return value


def render(result: Any, output_format: str = "table", timezone: str = "UTC") -> str:
    """The text to print for a result: JSON, CSV, or a table or report for the terminal
    (`terminal_safe`); a command's own text (an export to stdout, a crontab) as it is."""
    if result is None:
        return ""
    if isinstance(result, str):
        return result
    if output_format == "json":
        return json.dumps(_plain(result), indent=2)
    frame = _frame_of(result)
    if output_format == "csv":
        if frame is None:
            raise InvalidInputError(f"{type(result).__name__} has no table form; use --format json")
        return frame_to_csv(frame).rstrip("\r\n")
    text_method: object = type(result).__str__
    has_own_text = text_method is not object.__str__
    if frame is None or has_own_text:
        return terminal_safe(str(result))
    return terminal_safe(frame_text(frame, timezone))


_TERMINAL_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_safe(text: str) -> str:
    """Text with every control character but newline and tab shown as an escape (`\\x1b`):
    an agent's name holding ESC or BEL could otherwise retitle the terminal, hide what follows
    or move the cursor."""
    return _TERMINAL_CONTROLS.sub(lambda found: f"\\x{ord(found[0]):02x}", text)
