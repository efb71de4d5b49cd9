"""Bulk inserts: the generic SQLAlchemy path, and per-dialect fast paths for millions of rows.

`bulk_insert_rows` takes dicts and lets SQLAlchemy convert every value; repositories use it.
`insert_storage_rows` takes tuples already in storage form and hands them to the driver as they
are (PostgreSQL COPY, SQLite `executemany` of many-row INSERTs), which is what makes seeding a
million executions fast. Storage form is what SQLAlchemy itself writes for the kit's column
types on SQLite, and what PostgreSQL's COPY text input reads back as the same values:

- UUID: 32 lower-case hex digits (`storage_uuid`);
- timestamp: naive UTC text `YYYY-MM-DD HH:MM:SS.ffffff` (`storage_timestamp`);
- NUMERIC: float (SQLAlchemy binds floats on SQLite; COPY parses the repr exactly);
- enum: its value; bool, int, str and None as they are.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import chain, islice
from typing import Any

from sqlalchemy import Connection, Table, text

CHUNK_ROWS = 5_000
SQLITE_ROWS_PER_INSERT = 500
SQLITE_LOAD_CACHE_KIB = 262_144
"""SQLite page cache during a large load (256 MiB): fewer page reads as the indexes grow."""
POSTGRES_INDEX_MEMORY = "256MB"


def bulk_insert_rows(
    connection: Connection, table: Table, rows: Iterable[Mapping[str, Any]]
) -> int:
    """Insert `rows` (dicts keyed by column name) into `table`; returns the number inserted.

    Rows may name different columns (records leave out their None fields): each chunk is sent
    with the union of its keys, absent ones as NULL, since executemany needs one shape.
    """
    iterator = iter(rows)
    total = 0
    while chunk := list(islice(iterator, CHUNK_ROWS)):
        keys = dict.fromkeys(key for row in chunk for key in row)
        chunk = [{key: row.get(key) for key in keys} for row in chunk]
        connection.execute(table.insert(), chunk)
        total += len(chunk)
    return total


def insert_storage_rows(
    connection: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert tuples of storage-form values (module docstring) by the dialect's fastest path.

    COPY also takes the Python values themselves (UUID, datetime, Decimal), which psycopg
    dumps. `rows` may be an iterator, consumed as it goes, so that each tuple is freed once
    sent. Runs inside the caller's transaction; returns the number of rows inserted.
    """
    quote = connection.dialect.identifier_preparer.quote
    statement = f"{quote(table.name)} ({', '.join(quote(name) for name in columns)})"
    if connection.dialect.name == "postgresql":
        return _copy_rows(connection, f"COPY {statement} FROM STDIN", rows)
    return _insert_many(connection, f"INSERT INTO {statement} VALUES ", len(columns), rows)


def _copy_rows(connection: Connection, statement: str, rows: Iterable[Sequence[Any]]) -> int:
    """Stream rows through psycopg 3's COPY FROM STDIN on the connection's raw driver connection."""
    count = 0
    with (
        connection.connection.driver_connection.cursor() as cursor,
        cursor.copy(statement) as copy,
    ):
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def _insert_many(
    connection: Connection, insert: str, width: int, rows: Iterable[Sequence[Any]]
) -> int:
    """sqlite3 `executemany` of INSERTs of many rows each (a third faster than one row each).

    As many rows per statement as SQLite's limit on parameters allows, up to
    SQLITE_ROWS_PER_INSERT; the remainder goes one row per statement.
    """
    raw = connection.connection.driver_connection
    limit = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    per_statement = max(1, min(SQLITE_ROWS_PER_INSERT, limit // width))
    source = iter(rows)
    remainder: list[Sequence[Any]] = []
    count = 0

    def whole_statements() -> Iterator[list[Any]]:
        nonlocal count
        while chunk := list(islice(source, per_statement)):
            count += len(chunk)
            if len(chunk) < per_statement:
                remainder.extend(chunk)
                return
            yield list(chain.from_iterable(chunk))

    row = f"({', '.join('?' * width)})"
    cursor = raw.cursor()
    try:
        cursor.executemany(insert + ", ".join([row] * per_statement), whole_statements())
        cursor.executemany(insert + row, remainder)
    finally:
        cursor.close()
    return count


def storage_uuid(value: uuid.UUID | int) -> str:
    """A UUID (or its 128-bit integer) as stored: 32 lower-case hex digits."""
    return f"{value if isinstance(value, int) else value.int:032x}"


def storage_timestamp(value: datetime) -> str:
    """A datetime as stored: naive UTC with microseconds (aware values are converted to UTC)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")


@contextmanager
def load_settings(connection: Connection) -> Iterator[None]:
    """Connection settings for a large load of rows known to be valid, restored afterwards.

    SQLite: foreign keys unchecked and a larger page cache (the foreign key lookups alone are a
    sixth of the insert time). Enter it before the transaction begins: SQLite ignores
    `PRAGMA foreign_keys` inside one. PostgreSQL: nothing (see `rebuilt_indexes`).
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = connection.connection.driver_connection
    foreign_keys = raw.execute("PRAGMA foreign_keys").fetchone()[0]
    cache_size = raw.execute("PRAGMA cache_size").fetchone()[0]
    raw.execute("PRAGMA foreign_keys=OFF")
    raw.execute(f"PRAGMA cache_size=-{SQLITE_LOAD_CACHE_KIB}")
    try:
        yield
    finally:
        raw.execute(f"PRAGMA foreign_keys={int(foreign_keys)}")
        raw.execute(f"PRAGMA cache_size={int(cache_size)}")


@contextmanager
def rebuilt_indexes(connection: Connection, tables: Sequence[Table]) -> Iterator[None]:
    """On PostgreSQL, drop the tables' foreign keys and secondary indexes for the block.

    They are recreated from their own definitions at the end, in the caller's transaction, and
    the tables analysed: one index build and one join instead of an index insert and a trigger
    per row make a large COPY three times faster. The tables are locked until commit.
    On SQLite, nothing: there the rebuild costs about what it saves.
    """
    if connection.dialect.name != "postgresql":
        yield
        return
    names = [table.name for table in tables]
    constraints = connection.execute(
        text(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY(CAST(:names AS regclass[]))"
        ),
        {"names": names},
    ).all()
    indexes = connection.execute(
        text(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = ANY(CAST(:names AS regclass[])) AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)"
        ),
        {"names": names},
    ).all()
    quote = connection.dialect.identifier_preparer.quote
    for table, name, _ in constraints:
        connection.exec_driver_sql(f"ALTER TABLE {table} DROP CONSTRAINT {quote(name)}")
    for name, _ in indexes:
        connection.exec_driver_sql(f"DROP INDEX {quote(name)}")
    yield
    connection.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{POSTGRES_INDEX_MEMORY}'")
    for _, definition in indexes:
        connection.exec_driver_sql(definition)
    for table, name, definition in constraints:
        connection.exec_driver_sql(f"ALTER TABLE {table} ADD CONSTRAINT {quote(name)} {definition}")
    connection.exec_driver_sql(f"ANALYZE {', '.join(quote(name) for name in names)}")
