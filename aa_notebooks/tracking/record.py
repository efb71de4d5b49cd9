"""One finished execution with its trace steps and token usage, as rows, and as a JSON line.

Rows are dicts keyed by column name with Python values (UUID, aware UTC datetime, Decimal, enum
values as text). A Run's steps and usages leave out `id` and `execution_id`: they are the
record's execution's, and get new ids when written (`store.write_batch`). The JSON form is what
the spool and the journal store; decoding restores each value's type from the column it belongs
to, so a replayed record is the record that was spooled. It is encoded by orjson, which writes
UUIDs and datetimes itself: agent threads journal every record as it ends, and the standard
library's encoder, calling back into Python for each such value, took several times longer.
What orjson refuses (an integer past 64 bits, text that is not valid Unicode) is encoded by the
standard library instead, to the same JSON. A record that `attach`es steps and usages to an
execution stored (or spooled) earlier carries only that execution's id. A record that
`replaces` executions (a trace ingested again with spans that arrived late) takes their place:
they are deleted, rows and spend, before it is written. A run that was cut off (its process
ended) is recorded from what was known at its start (`cut_off_record`).
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

import orjson
from sqlalchemy import Numeric, Table, Uuid

from aa_notebooks.db.bulk import check_rows
from aa_notebooks.db.schema import (
    AgentExecution,
    ExecutionStatus,
    ExecutionTrace,
    TokenUsage,
    UTCDateTime,
    table_of,
)

Row = dict[str, Any]
CUT_OFF = "CutOff"
"""The error_type of a run that was still going when its process ended."""
START_FIELDS = (
    "id", "user_id", "request_id", "session_id", "agent_id", "agent_name", "agent_type",
    "model_name", "flow_id", "query_preview", "started_at",
)  # fmt: skip
"""What is known of an execution when it starts: all a cut-off record can hold."""


@dataclass(frozen=True, slots=True)
class ExecutionRecord:
    """An execution row and its child rows; written together or not at all."""

    execution: Row
    traces: tuple[Row, ...] = ()
    usages: tuple[Row, ...] = ()
    attach: bool = False
    """Only the steps and usages are new; `execution` holds just the id of a stored one."""
    replaces: tuple[uuid.UUID, ...] = ()
    """Executions (this one's own id included, when it was written before) that this record
    takes the place of."""

    @property
    def id(self) -> uuid.UUID:
        """The client-generated execution id that makes writing this record idempotent."""
        execution_id: uuid.UUID = self.execution["id"]
        return execution_id

    def to_line(self) -> bytes:
        """One line of JSON holding every row, with its newline."""
        document: dict[str, Any] = {
            "execution": self.execution, "traces": self.traces, "usages": self.usages,
        }  # fmt: skip
        if self.attach:
            document["attach"] = True
        if self.replaces:
            document["replaces"] = [str(replaced) for replaced in self.replaces]
        return json_line(document)

    def to_json(self) -> str:
        """`to_line` as text, without the newline."""
        return self.to_line()[:-1].decode()

    @classmethod
    def from_json(cls, line: str | bytes) -> ExecutionRecord:
        """The record a `to_json` line holds, with every value of its column's type again."""
        document = json.loads(line)
        return cls(
            _decode(table_of(AgentExecution), document["execution"]),
            tuple(_decode(table_of(ExecutionTrace), row) for row in document["traces"]),
            tuple(_decode(table_of(TokenUsage), row) for row in document["usages"]),
            bool(document.get("attach", False)),
            tuple(uuid.UUID(replaced) for replaced in document.get("replaces", ())),
        )

    def check(self) -> None:
        """InvalidInputError naming the first value its column cannot hold (never wrapped)."""
        if not self.attach:
            check_rows(table_of(AgentExecution), [self.execution])
        check_rows(table_of(ExecutionTrace), self.traces)
        check_rows(table_of(TokenUsage), self.usages)


def json_line(document: Mapping[str, Any]) -> bytes:
    """`document` as one line of JSON with its newline; values JSON lacks (Decimal, anything
    else but UUIDs and datetimes) as their text."""
    try:
        return orjson.dumps(document, default=str, option=orjson.OPT_APPEND_NEWLINE)
    except orjson.JSONEncodeError:
        return json.dumps(document, default=str, separators=(",", ":")).encode() + b"\n"


def start_from_json(row: Mapping[str, Any]) -> Row:
    """A run's start row (`START_FIELDS`) from its JSON form."""
    return _decode(table_of(AgentExecution), {name: row.get(name) for name in START_FIELDS})


def cut_off_record(start: Row, at: datetime, why: str) -> ExecutionRecord:
    """The record of a run that was cut off at `at`: status failure, error type CutOff; its
    tokens and cost are unknown (NULL), its steps lost with its process."""
    completed = max(at, start["started_at"])
    execution = {
        **{name: start.get(name) for name in START_FIELDS},
        "status": ExecutionStatus.failure.value,
        "input_tokens": None,
        "output_tokens": None,
        "total_tokens": None,
        "cost_usd": None,
        "execution_time_ms": round((completed - start["started_at"]).total_seconds() * 1000),
        "llm_time_ms": None,
        "error_type": CUT_OFF,
        "error_message": why,
        "completed_at": completed,
    }
    return ExecutionRecord(execution)


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
