"""Write a batch of execution records in one transaction, each execution at most once.

Executions are inserted with `ON CONFLICT (id) DO NOTHING ... RETURNING id` (on SQLite the same
as `INSERT OR IGNORE` for a primary key), so an execution already stored (a replayed spool, a
retried batch) is skipped together with its steps and usages, and only new executions count
towards budgets (`apply_spend`, in the same transaction, so spend commits with the rows). The
steps and usages of the new executions are new too (they are written with their execution or
not at all), so they go straight in, without a conflict check. Records that `attach` steps and
usages to an execution stored earlier (the document's recording functions, spooled in an outage)
insert them with the same conflict clause on their own ids, after the batch's executions.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Table, inspect, select

from aa_notebooks.budgets import apply_spend
from aa_notebooks.budgets.transactions import write_transaction
from aa_notebooks.db.rollups.record import begin_writing, record_rollups
from aa_notebooks.db.schema import AgentExecution, ExecutionTrace, KitMetadata, TokenUsage, User
from aa_notebooks.tracking.insert import insert_new, insert_rows
from aa_notebooks.tracking.record import ExecutionRecord, Row

log = logging.getLogger(__name__)

_EXECUTIONS = AgentExecution.__table__
_TRACES = ExecutionTrace.__table__
_USAGES = TokenUsage.__table__
_USERS = User.__table__
_present: dict[tuple[str, str], frozenset[str]] = {}


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What a batch did: executions newly stored, and budget alert events it made due."""

    inserted: int
    alerts: int


def write_batch(engine: Engine, records: Sequence[ExecutionRecord]) -> BatchResult:
    """Store the records not stored yet, with their spend, in one write transaction."""
    unique = list({record.id: record for record in records if not record.attach}.values())
    attached = [record for record in records if record.attach]
    alerts = 0
    with write_transaction(engine) as connection:
        _add_missing_users(connection, {r.execution["user_id"] for r in unique} - {None})
        begin_writing(connection)
        rows = _fit(connection, _EXECUTIONS, [r.execution for r in unique])
        inserted = insert_new(connection, _EXECUTIONS, rows, returning=True)
        new = [r for r in unique if r.id in inserted]
        traces = [row for r in new for row in r.traces]
        usages = [row for r in new for row in r.usages]
        insert_rows(connection, _TRACES, _fit(connection, _TRACES, traces))
        insert_rows(connection, _USAGES, _fit(connection, _USAGES, usages))
        later_traces = [row for r in attached for row in r.traces]
        insert_new(connection, _TRACES, _fit(connection, _TRACES, later_traces))
        later_usages = [row for r in attached for row in r.usages]
        stored = insert_new(
            connection, _USAGES, _fit(connection, _USAGES, later_usages), returning=True
        )
        record_rollups(
            connection,
            [r.execution for r in new],
            usages,
            [row for row in later_usages if row["id"] in stored],
        )
        if new:
            alerts = apply_spend(connection, [r.execution for r in new])
    return BatchResult(len(new), alerts)


def _add_missing_users(connection: Connection, user_ids: set[uuid.UUID]) -> None:
    """In the kit's own database, add the users(id) stubs the foreign key needs.

    An attached AgentOS database owns its users: there an unknown user is refused by the foreign
    key (and the record set aside), as the budgets module does.
    """
    if not user_ids or KitMetadata.__tablename__ not in _tables(connection):
        return
    known = set(connection.scalars(select(_USERS.c.id).where(_USERS.c.id.in_(user_ids))))
    if missing := user_ids - known:
        insert_new(connection, _USERS, [{"id": u} for u in missing])


def _fit(connection: Connection, table: Table, rows: list[Row]) -> list[Row]:
    """Rows without the columns this database lacks (the kit's additions, on an AgentOS one)."""
    if not rows:
        return rows
    absent = set(rows[0]) - _columns(connection, table)
    if not absent:
        return rows
    lost = sorted(name for name in absent if any(row[name] is not None for row in rows))
    if lost:
        log.warning("%s has no column %s: those values are not stored", table.name, lost)
    return [{k: v for k, v in row.items() if k not in absent} for row in rows]


def _columns(connection: Connection, table: Table) -> frozenset[str]:
    key = (connection.engine.url.render_as_string(hide_password=True), table.name)
    if key not in _present:
        found: list[Any] = inspect(connection).get_columns(table.name)
        _present[key] = frozenset(column["name"] for column in found)
    return _present[key]


def _tables(connection: Connection) -> frozenset[str]:
    key = (connection.engine.url.render_as_string(hide_password=True), "")
    if key not in _present:
        _present[key] = frozenset(inspect(connection).get_table_names())
    return _present[key]
