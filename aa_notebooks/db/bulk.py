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

Every path checks its values against the column types first (`check_rows`, `check_tuples`):
PostgreSQL's binary COPY would otherwise wrap an integer past INTEGER's range without an error,
and SQLite would store it where PostgreSQL refuses it.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from itertools import chain, islice
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, Connection, Integer, Numeric, Table, text

from aa_notebooks.db.driver import driver_connection
from aa_notebooks.errors import InvalidInputError

CHUNK_ROWS = 5_000
SQLITE_ROWS_PER_INSERT = 500
SQLITE_LOAD_CACHE_KIB = 262_144
"""SQLite page cache during a large load (256 MiB): fewer page reads as the indexes grow."""
POSTGRES_INDEX_MEMORY = "256MB"
INTEGER_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1


class Limits(NamedTuple):
    """What a column takes: a range, the SQL type's name, and whether it must be whole."""

    low: int | Decimal
    high: int | Decimal
    kind: str
    whole: bool


@cache
def column_limits(table: Table) -> dict[str, Limits]:
    """The range of each numeric column. Every INTEGER column of the kit's tables is a count, a
    duration, a step number or a percentage: never negative. NUMERIC(p, s) holds under
    10^(p-s) either way."""
    found: dict[str, Limits] = {}
    for column in table.columns:
        kind = column.type
        if isinstance(kind, BigInteger):
            found[column.name] = Limits(-BIGINT_MAX - 1, BIGINT_MAX, "BIGINT", True)
        elif isinstance(kind, Integer):
            found[column.name] = Limits(0, INTEGER_MAX, "INTEGER", True)
        elif isinstance(kind, Numeric) and kind.precision is not None:
            bound = Decimal(10) ** (kind.precision - (kind.scale or 0))
            high = bound - Decimal(1).scaleb(-(kind.scale or 0))
            found[column.name] = Limits(
                -high, high, f"NUMERIC({kind.precision},{kind.scale})", False
            )
    return found


def check_rows(table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """InvalidInputError naming the first value (of dict rows) that its column cannot hold."""
    if not rows:
        return
    names = dict.fromkeys(name for row in rows[:1] for name in row)
    for name, limits in column_limits(table).items():
        if name in names:
            _check_column(table, name, limits, [row.get(name) for row in rows])


def check_tuples(table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """`check_rows` for rows as tuples in `columns` order."""
    limits = column_limits(table)
    for position, name in enumerate(columns):
        if name in limits:
            _check_column(table, name, limits[name], [row[position] for row in rows])


def _check_column(table: Table, name: str, limits: Limits, values: list[Any]) -> None:
    """Column-wise: one min and max for the common case, a value at a time for the message."""
    present = [value for value in values if value is not None]
    if not present:
        return
    try:
        typed = all(type(value) is int for value in present) if limits.whole else True
        if typed and limits.low <= min(present) and max(present) <= limits.high:
            return
    except TypeError:
        pass
    for value in present:
        _check_value(table, name, limits, value)


def _check_value(table: Table, name: str, limits: Limits, value: Any) -> None:
    where = f"{table.name}.{name}"
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise InvalidInputError(f"{where} must be a number, got {value!r}")
    if limits.whole and not isinstance(value, int):
        raise InvalidInputError(f"{where} must be a whole number, got {value!r}")
    if not limits.low <= value <= limits.high:
        raise InvalidInputError(
            f"{where} = {value} is out of range: its column is {limits.kind}, which holds "
            f"{limits.low} to {limits.high} here; the value is refused, not wrapped"
        )


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
        check_rows(table, chunk)
        connection.execute(table.insert(), chunk)
        total += len(chunk)
    return total


def insert_storage_rows(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    checked: bool = False,
) -> int:
    """Insert tuples of storage-form values (module docstring) by the dialect's fastest path.

    COPY also takes the Python values themselves (UUID, datetime, Decimal), which psycopg
    dumps. `rows` may be an iterator, consumed as it goes, so that each tuple is freed once
    sent. `checked`: the caller range-checked these values already (`check_rows` on the rows
    they were made from), so they are not checked again. Runs inside the caller's transaction;
    returns the number of rows inserted.
    """
    quote = connection.dialect.identifier_preparer.quote
    statement = f"{quote(table.name)} ({', '.join(quote(name) for name in columns)})"
    if not checked:
        rows = _checked(table, columns, rows)
    if connection.dialect.name == "postgresql":
        return _copy_rows(connection, f"COPY {statement} FROM STDIN", rows)
    return _insert_many(connection, f"INSERT INTO {statement} VALUES ", len(columns), rows)


def _checked(
    table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> Iterable[Sequence[Any]]:
    """The rows, range-checked: a list at once, an iterator a chunk at a time as it is read."""
    if isinstance(rows, Sequence):
        check_tuples(table, columns, rows)
        return rows
    return _checked_chunks(table, columns, iter(rows))


def _checked_chunks(
    table: Table, columns: Sequence[str], rows: Iterator[Sequence[Any]]
) -> Iterator[Sequence[Any]]:
    while chunk := list(islice(rows, CHUNK_ROWS)):
        check_tuples(table, columns, chunk)
        yield from chunk


def _copy_rows(connection: Connection, statement: str, rows: Iterable[Sequence[Any]]) -> int:
    """Stream rows through psycopg 3's COPY FROM STDIN on the connection's raw driver connection."""
    count = 0
    with (
        driver_connection(connection).cursor() as cursor,
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
    raw = driver_connection(connection)
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
    raw = driver_connection(connection)
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
def rollback_journal(connection: Connection, wanted: bool) -> Iterator[bool]:
    """SQLite, when `wanted`: the rollback journal instead of WAL for the block, WAL again after;
    yields whether it switched.

    One transaction that writes a whole database (a big seed) needs, in WAL, a second copy of
    every page it writes in the WAL file until the checkpoint: 33 GB more for 10M executions.
    The rollback journal keeps only the pages the transaction changes that held data before: a
    few for a new database, so the load needs the disk of its result only, at the same speed
    (300k executions: 53 s and no journal, against 55 s and a 1.07 GB WAL). What it costs:
    readers wait until the transaction ends instead of reading the old rows. Enter it before the
    transaction begins. When another connection holds the database, SQLite keeps WAL, and so
    does the block. PostgreSQL: nothing.
    """
    if connection.dialect.name != "sqlite" or not wanted:
        yield False
        return
    raw = driver_connection(connection)
    try:
        switched = raw.execute("PRAGMA journal_mode=DELETE").fetchone()[0] == "delete"
    except sqlite3.OperationalError:  # locked by another connection: stay in WAL
        switched = False
    try:
        yield switched
    finally:
        if switched:
            with suppress(sqlite3.OperationalError):  # every new connection sets WAL anyway
                raw.execute("PRAGMA journal_mode=WAL")


@contextmanager
def rebuilt_indexes(
    connection: Connection, tables: Sequence[Table], *, large: bool = False
) -> Iterator[None]:
    """On PostgreSQL, drop the tables' foreign keys and secondary indexes for the block.

    They are recreated from their own definitions at the end, in the caller's transaction, and
    the tables analysed: one index build and one join instead of an index insert and a trigger
    per row make a large COPY three times faster. The tables are locked until commit.
    On SQLite, only for a `large` load (the caller's call; see `_rebuilt_sqlite_indexes`).
    """
    if connection.dialect.name != "postgresql":
        with _rebuilt_sqlite_indexes(connection, tables, large):
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


@contextmanager
def _rebuilt_sqlite_indexes(
    connection: Connection, tables: Sequence[Table], wanted: bool
) -> Iterator[None]:
    """SQLite, when `wanted`: the tables' secondary indexes dropped for the block and created
    again from their own SQL at the end, in the caller's transaction. Up to a million rows the
    rebuild costs about what it saves; past that, rows inserted in key order into indexes
    ordered by cost, tokens or name touch pages all over files bigger than the page cache,
    while CREATE INDEX sorts once."""
    if not wanted:
        yield
        return
    names = [table.name for table in tables]
    marks = ", ".join("?" for _ in names)
    raw = driver_connection(connection)
    indexes = raw.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        f"AND tbl_name IN ({marks})",
        names,
    ).fetchall()
    if not raw.in_transaction:  # sqlite3 opens one only before DML: DDL would commit at once
        raw.execute("BEGIN")
    quote = connection.dialect.identifier_preparer.quote
    for name, _ in indexes:
        raw.execute(f"DROP INDEX {quote(name)}")
    yield
    for _, definition in indexes:
        raw.execute(definition)
