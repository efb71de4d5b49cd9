"""One finished execution with its trace steps and token usage, as rows, and as a JSON line.

Rows are dicts keyed by column name with Python values (UUID, aware UTC datetime, Decimal, enum
values as text). The JSON form is what the spool stores; decoding restores each value's type
from the column it belongs to, so a replayed record is the record that was spooled.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import Numeric, Table, Uuid

from aa_notebooks.db.schema import AgentExecution, ExecutionTrace, TokenUsage, UTCDateTime

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ExecutionRecord:
    """An execution row and its child rows; written together or not at all."""

    execution: Row
    traces: tuple[Row, ...] = ()
    usages: tuple[Row, ...] = ()

    @property
    def id(self) -> uuid.UUID:
        """The client-generated execution id that makes writing this record idempotent."""
        return self.execution["id"]

    def to_json(self) -> str:
        """One line of JSON (no newline) holding every row."""
        document = {"execution": self.execution, "traces": self.traces, "usages": self.usages}
        return json.dumps(document, default=str, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str | bytes) -> ExecutionRecord:
        """The record a `to_json` line holds, with every value of its column's type again."""
        document = json.loads(line)
        return cls(
            _decode(AgentExecution.__table__, document["execution"]),
            tuple(_decode(ExecutionTrace.__table__, row) for row in document["traces"]),
            tuple(_decode(TokenUsage.__table__, row) for row in document["usages"]),
        )


def _decode(table: Table, row: Mapping[str, Any]) -> Row:
    converters = _converters(table)
    return {
        name: value if value is None or name not in converters else converters[name](value)
        for name, value in row.items()
    }


@cache
def _converters(table: Table) -> dict[str, Callable[[Any], Any]]:
    """Per column, how its JSON text becomes the Python value again (others stay as they are)."""
    found: dict[str, Callable[[Any], Any]] = {}
    for column in table.columns:
        if isinstance(column.type, Uuid):
            found[column.name] = uuid.UUID
        elif isinstance(column.type, UTCDateTime):
            found[column.name] = datetime.fromisoformat
        elif isinstance(column.type, Numeric):
            found[column.name] = Decimal
    return found
