"""Transactions on the budgets' state: writes that serialize with every other writer, and
read-only snapshots for views that must not write."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine

from aa_notebooks.db.engine import SQLITE_BUSY_TIMEOUT_MS


@contextmanager
def write_transaction(engine: Engine, busy_timeout_ms: int | None = None) -> Iterator[Connection]:
    """A transaction that holds SQLite's write lock from its first statement (BEGIN IMMEDIATE).

    SQLite then runs such transactions one at a time, so what they read cannot change before they
    commit; on PostgreSQL the callers lock the rows they rely on (`load_budgets(lock=True)`) or
    a table instead. `busy_timeout_ms` waits less (or more) than the engine's busy timeout for
    SQLite's write lock, for this transaction alone.
    """
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            _begin_immediate(connection, busy_timeout_ms)
        yield connection


def _begin_immediate(connection: Connection, busy_timeout_ms: int | None) -> None:
    """BEGIN IMMEDIATE, waiting `busy_timeout_ms` for the write lock when given: the timeout
    is set for that statement alone, and the connection goes back to the pool with the
    engine's own."""
    if busy_timeout_ms is None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        return
    connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    finally:
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that only reads and sees one snapshot throughout.

    PostgreSQL: REPEATABLE READ, READ ONLY (a write fails; fine on a database the kit may only
    read). SQLite: a deferred BEGIN, whose snapshot is taken at its first read (WAL mode), so
    writers go on meanwhile.
    """
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        with connection.begin():
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql("BEGIN")
            yield connection
