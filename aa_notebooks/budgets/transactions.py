"""Transactions on the budgets' state: writes that serialize with every other writer, and
read-only snapshots for views that must not write."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds SQLite's write lock from its first statement (BEGIN IMMEDIATE).

    SQLite then runs such transactions one at a time, so what they read cannot change before they
    commit; on PostgreSQL the callers lock the rows they rely on (`load_budgets(lock=True)`) or
    a table instead.
    """
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        yield connection


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
