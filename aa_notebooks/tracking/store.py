"""Write a batch of execution records in one transaction, each execution at most once.

Executions are inserted with `ON CONFLICT (id) DO NOTHING ... RETURNING id` (on SQLite the same
as `INSERT OR IGNORE` for a primary key), so an execution already stored (a replayed spool, a
retried batch) is skipped together with its steps and usages, and only new executions count
towards budgets (`apply_spend`, in the same transaction, so spend commits with the rows). The
steps and usages of the new executions are new too (they are written with their execution or
not at all), so they go straight in, without a conflict check; a Run's come without ids, and get
them (and their execution's) as they are inserted. Records that `attach` steps and
usages to an execution stored earlier (the contract's recording functions, spooled in an outage)
insert them with the same conflict clause on their own ids, after the batch's executions.
Records that name executions they `replace` (a trace ingested again when late spans arrived)
first delete those executions with their steps, usages and spend: a replayed replacement
deletes and writes the same rows again.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, inspect, select

from aa_notebooks.budgets import apply_spend
from aa_notebooks.budgets.capabilities import capabilities
from aa_notebooks.budgets.ledger import Spend, add_spend, spends
from aa_notebooks.budgets.transactions import write_transaction
from aa_notebooks.db.not_stored import say_not_stored
from aa_notebooks.db.rollups.record import begin_writing, record_rollups
from aa_notebooks.db.schema import (
    AgentExecution,
    ExecutionTrace,
    RunningExecution,
    TokenUsage,
    table_of,
)
from aa_notebooks.db.stored_uuid import with_references
from aa_notebooks.db.users import add_missing_users
from aa_notebooks.tracking.insert import insert_new, insert_rows
from aa_notebooks.tracking.record import ExecutionRecord, Row
from aa_notebooks.validation import storable_text, unstorable

_EXECUTIONS = table_of(AgentExecution)
_TRACES = table_of(ExecutionTrace)
_USAGES = table_of(TokenUsage)
_RUNNING = table_of(RunningExecution)
_present: dict[tuple[str, str], frozenset[str]] = {}


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What a batch did: executions newly stored, and budget alert events it made due."""

    inserted: int
    alerts: int


def write_batch(
    engine: Engine, records: Sequence[ExecutionRecord], running: Sequence[uuid.UUID] = ()
) -> BatchResult:
    """Store the records not stored yet, with their spend, in one write transaction; the rows
    of `running` (runs in flight these records end) go in the same transaction."""
    unique = list({record.id: record for record in records if not record.attach}.values())
    attached = [record for record in records if record.attach]
    alerts = 0
    with write_transaction(engine) as connection:
        if replacing := [record for record in unique if record.replaces]:
            _remove_replaced(connection, replacing)
        add_missing_users(connection, {r.execution["user_id"] for r in unique} - {None})
        begin_writing(connection)
        rows = _referring(connection, _EXECUTIONS, [r.execution for r in unique])
        inserted = insert_new(connection, _EXECUTIONS, rows, returning=True)
        new = [r for r in unique if r.id in inserted]
        for table, kind in ((_TRACES, "traces"), (_USAGES, "usages")):
            children = [getattr(r, kind) for r in new]
            fitted = _fit(connection, table, [row for rows in children for row in rows])
            parents = [r.id for r, rows in zip(new, children, strict=True) for _ in rows]
            insert_rows(connection, table, fitted, parents)
        later_traces = [row for r in attached for row in r.traces]
        insert_new(connection, _TRACES, _referring(connection, _TRACES, later_traces))
        later_usages = [row for r in attached for row in r.usages]
        stored = insert_new(
            connection, _USAGES, _referring(connection, _USAGES, later_usages), returning=True
        )
        record_rollups(
            connection,
            [r.execution for r in new],
            [row for r in new for row in r.usages],
            [row for row in later_usages if row["id"] in stored],
            parents=[row.get("execution_id", r.id) for r in new for row in r.usages],
        )
        if new:
            alerts = apply_spend(connection, [r.execution for r in new])
        if running:
            connection.execute(delete(_RUNNING).where(_RUNNING.c.id.in_(running)))
    return BatchResult(len(new), alerts)


def clean_text(record: ExecutionRecord) -> bool:
    """Clean the record's text in place as both databases can store it (`storable_text`): a NUL
    in a tool's output (PostgreSQL refuses it) or half an emoji (no encoding takes it) would
    have the whole run refused. Whether anything changed: the writer cleans a record the
    database refused and tries it once more, so that the usual batch pays nothing for this."""
    changed = False
    for row in (record.execution, *record.traces, *record.usages):
        for name, value in row.items():
            if unstorable(value):
                row[name] = storable_text(value)
                changed = True
    return changed


def _remove_replaced(connection: Connection, records: list[ExecutionRecord]) -> None:
    """Delete the executions the records replace, with their steps and usages, and take their
    cost back out of the spend ledger."""
    ids = list({old for record in records for old in record.replaces})
    present = _columns(connection, _EXECUTIONS)
    columns = [_EXECUTIONS.c[name] for name in _SPEND_FIELDS if name in present]
    gone = [dict(row) for row in connection.execute(
        select(*columns).where(_EXECUTIONS.c.id.in_(ids))
    ).mappings()]  # fmt: skip
    if not gone:
        return
    ids = [row["id"] for row in gone]
    for table in (_TRACES, _USAGES):
        connection.execute(delete(table).where(table.c.execution_id.in_(ids)))
    connection.execute(delete(_EXECUTIONS).where(_EXECUTIONS.c.id.in_(ids)))
    if capabilities(connection).has_ledger:
        add_spend(connection, [Spend(s.keys, -s.micros, s.started_at) for s in spends(gone)])


_SPEND_FIELDS = ("id", "user_id", "agent_id", "agent_name", "flow_id", "cost_usd", "started_at")


def _fit(connection: Connection, table: Table, rows: list[Row]) -> list[Row]:
    """Rows without the columns this database lacks (the kit's additions, on an AgentOS one)."""
    if not rows:
        return rows
    absent = {name for row in rows for name in row} - _columns(connection, table)
    if not absent:
        return rows
    given = (name for name in absent if any(row.get(name) is not None for row in rows))
    say_not_stored(connection, table.name, given)
    return [{k: v for k, v in row.items() if k not in absent} for row in rows]


def _referring(connection: Connection, table: Table, rows: list[Row]) -> list[Row]:
    """`_fit` rows, their foreign keys written in the text the rows they refer to hold: on
    SQLite, a user or an execution another program stored with dashes (`with_references`)."""
    return with_references(connection, table, _fit(connection, table, rows))


def _columns(connection: Connection, table: Table) -> frozenset[str]:
    key = (connection.engine.url.render_as_string(hide_password=True), table.name)
    if key not in _present:
        found: list[Any] = inspect(connection).get_columns(table.name)
        _present[key] = frozenset(column["name"] for column in found)
    return _present[key]
