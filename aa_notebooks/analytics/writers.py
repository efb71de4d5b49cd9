"""CSV and JSON writers for exported executions, one chunk of records at a time.

CSV: one row per execution; nested trace steps and token usage (when exported) are JSON text in
the `trace_steps` and `token_usage` columns. Text cells are neutralised by
`aa_notebooks.csvsafe` (the rule every CSV of the kit follows) unless `escape_formulas` is off.
JSON: one array of execution objects, nested lists inline, money as numbers, times in ISO 8601.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, TextIO

from aa_notebooks.csvsafe import escape_formula, neutralise, positional


def plain(value: Any) -> Any:
    """A JSON-ready value: times in ISO 8601, ids as text, money as a number, lists recursed."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [{k: plain(v) for k, v in item.items()} for item in value]
    return value


class RecordWriter(Protocol):
    """Writes exported records in chunks, then closes the document."""

    def write(self, records: Iterable[Mapping[str, Any]]) -> None: ...

    def close(self) -> None: ...


class CsvWriter:
    """One CSV row per execution under a header row of `columns`."""

    def __init__(self, stream: TextIO, columns: Sequence[str], escape_formulas: bool) -> None:
        self._columns = list(columns)
        self._escape = escape_formulas
        self._stream = stream
        self._writer = csv.writer(stream, lineterminator="\n")
        self._writer.writerow([neutralise(c) if escape_formulas else c for c in self._columns])

    def _cell(self, value: Any) -> Any:
        if value is None:
            return ""
        if isinstance(value, str):
            return escape_formula(value) if self._escape else value
        if isinstance(value, list):
            return json.dumps(plain(value), ensure_ascii=False)
        if isinstance(value, Decimal | float):
            return positional(value)
        return plain(value)

    def write(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Append the records' rows."""
        for record in records:
            row = [self._cell(record.get(column)) for column in self._columns]
            if any(isinstance(cell, str) and "\r" in cell for cell in row):
                self._stream.write(_quoting_carriage_returns(row))
            else:
                self._writer.writerow(row)

    def close(self) -> None:
        """Nothing to finish for CSV."""


def _quoting_carriage_returns(row: list[Any]) -> str:
    """A CSV line (ending in `\n`) whose cells holding a carriage return are quoted: the csv
    module quotes only the characters of its line end, and a lone `\r` left bare reads as the
    end of a row."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(row)
    return buffer.getvalue()[:-2] + "\n"


class JsonWriter:
    """A JSON array of execution objects with keys `columns`, written as records arrive."""

    def __init__(self, stream: TextIO, columns: Sequence[str]) -> None:
        self._stream = stream
        self._columns = list(columns)
        self._first = True
        stream.write("[")

    def write(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Append the records as objects."""
        for record in records:
            item = {c: plain(record.get(c)) for c in self._columns}
            self._stream.write(
                ("\n" if self._first else ",\n") + json.dumps(item, ensure_ascii=False)
            )
            self._first = False

    def close(self) -> None:
        """End the array."""
        self._stream.write("\n]\n" if not self._first else "]\n")
