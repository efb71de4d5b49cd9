"""Write transactions that serialize with every other writer of the budgets' state."""

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
