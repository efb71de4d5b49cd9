"""Bulk INSERTs that skip rows whose id is already stored, by each dialect's fast path.

PostgreSQL gets COPY into a temporary staging table, then one `INSERT ... SELECT ... ON CONFLICT
(id) DO NOTHING` per table; SQLite gets the same conflict clause through the driver (multi-row
VALUES where the inserted ids are wanted back, `executemany` otherwise) with values in storage
form (see `aa_notebooks.db.bulk`). Both skip SQLAlchemy's per-value conversion, the slow part of
`bulk_insert_rows`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Enum, Numeric, Table, Uuid
from sqlalchemy.exc import DBAPIError

from aa_notebooks.db.bulk import storage_timestamp
from aa_notebooks.db.schema import UTCDateTime

Row = dict[str, Any]
_SQLITE_MAX_VARIABLES = 32_766  # SQLite's default limit since 3.32; builds may allow more


def insert_new(
    connection: Connection, table: Table, rows: Sequence[Row], *, returning: bool = False
) -> set[uuid.UUID]:
    """Insert the rows whose id is not in `table`; with `returning`, the ids inserted."""
    if not rows:
        return set()
    names = list(rows[0])
    if connection.dialect.name == "postgresql":
        return _postgresql(connection, table, names, rows, returning)
    return _sqlite(connection, table, names, rows, returning)


def _postgresql(
    connection: Connection, table: Table, names: list[str], rows: Sequence[Row], returning: bool
) -> set[uuid.UUID]:
    """COPY into a session-local staging table, then move the rows that are new."""
    stage = _stage(connection, table)
    quote = connection.dialect.identifier_preparer.quote
    columns = ", ".join(quote(name) for name in names)
    pick = itemgetter(*names)
    statement = f"COPY {stage} ({columns}) FROM STDIN"
    with (
        _driver_errors(connection, statement),
        connection.connection.driver_connection.cursor() as cursor,
        cursor.copy(statement) as copy,
    ):
        for row in rows:
            copy.write_row(pick(row) if len(names) > 1 else (pick(row),))
    selected = ", ".join(
        f"{quote(name)} AT TIME ZONE 'UTC'" if name in _timestamps(table) else quote(name)
        for name in names
    )
    sql = (
        f"INSERT INTO {quote(table.name)} ({columns}) SELECT {selected} FROM {stage} "
        "ON CONFLICT (id) DO NOTHING" + (" RETURNING id" if returning else "")
    )
    result = connection.exec_driver_sql(sql)
    return set(result.scalars()) if returning else set()


def _stage(connection: Connection, table: Table) -> str:
    """This connection's staging table for `table`, created when missing.

    A temporary table lives as long as the connection and is emptied at each commit (its
    creation is undone with the transaction that made it, hence the check each time). Its
    timestamps are `timestamptz`, so aware datetimes go in as they are and the INSERT converts
    them to the naive UTC that the document's `timestamp` columns hold.
    """
    stage = f"aa_stage_{table.name}"
    exists = connection.exec_driver_sql("SELECT to_regclass(%s)", (f"pg_temp.{stage}",))
    if exists.scalar() is None:
        quote = connection.dialect.identifier_preparer.quote
        connection.exec_driver_sql(
            f"CREATE TEMPORARY TABLE {stage} (LIKE {quote(table.name)}) ON COMMIT DELETE ROWS"
        )
        for name in _timestamps(table):
            connection.exec_driver_sql(
                f"ALTER TABLE {stage} ALTER COLUMN {quote(name)} TYPE timestamptz"
            )
    return stage


@cache
def _timestamps(table: Table) -> frozenset[str]:
    return frozenset(c.name for c in table.columns if isinstance(c.type, UTCDateTime))


def _sqlite(
    connection: Connection, table: Table, names: list[str], rows: Sequence[Row], returning: bool
) -> set[uuid.UUID]:
    """The driver's executemany, or multi-row VALUES ... RETURNING when the ids are wanted."""
    values = _storage_tuples(table, names, rows)
    marks = "(" + ", ".join("?" * len(names)) + ")"
    head = f"INSERT INTO {_quoted(connection, table, names)} VALUES "
    tail = " ON CONFLICT (id) DO NOTHING"
    inserted: set[uuid.UUID] = set()
    cursor = connection.connection.driver_connection.cursor()
    try:
        with _driver_errors(connection, head):
            if not returning:
                cursor.executemany(head + marks + tail, values)
                return inserted
            per_statement = _SQLITE_MAX_VARIABLES // len(names)
            for start in range(0, len(values), per_statement):
                chunk = values[start : start + per_statement]
                sql = head + ", ".join([marks] * len(chunk)) + tail + " RETURNING id"
                cursor.execute(sql, [value for row in chunk for value in row])
                inserted.update(uuid.UUID(hex=found) for (found,) in cursor.fetchall())
        return inserted
    finally:
        cursor.close()


@contextmanager
def _driver_errors(connection: Connection, statement: str) -> Iterator[None]:
    """Raise a driver error as SQLAlchemy would (OperationalError...), invalidating the
    connection when it is gone, since these calls bypass SQLAlchemy's own handling."""
    dbapi = connection.dialect.loaded_dbapi
    try:
        yield
    except dbapi.Error as exc:
        gone = connection.dialect.is_disconnect(exc, connection.connection.dbapi_connection, None)
        if gone:
            connection.invalidate(exc)
        raise DBAPIError.instance(
            statement,
            None,
            exc,
            dbapi.Error,
            connection_invalidated=gone,
            dialect=connection.dialect,
        ) from exc


def _storage_tuples(table: Table, names: list[str], rows: Sequence[Row]) -> list[tuple[Any, ...]]:
    """Rows as tuples of storage-form values, converted a column at a time (the fast way)."""
    columns = []
    for name in names:
        values = [row[name] for row in rows]
        convert = _storage_form(table, name)
        if convert is not None:
            values = [None if value is None else convert(value) for value in values]
        columns.append(values)
    return list(zip(*columns, strict=True))


@cache
def _storage_form(table: Table, name: str) -> Callable[[Any], Any] | None:
    """How a column's Python value is stored on SQLite (as SQLAlchemy itself stores it)."""
    kind = table.c[name].type
    if isinstance(kind, Uuid):
        return _uuid_hex
    if isinstance(kind, UTCDateTime):
        return _timestamp_text
    if isinstance(kind, Numeric):
        return float
    if isinstance(kind, Enum):
        return str
    return None


def _uuid_hex(value: uuid.UUID) -> str:
    """`storage_uuid`, for a UUID: its 32 lower-case hex digits."""
    return value.hex


def _timestamp_text(value: datetime) -> str:
    """`storage_timestamp`, taking the short way for the UTC datetimes the tracker makes."""
    if value.tzinfo is UTC:
        return value.isoformat(" ", "microseconds")[:26]
    return storage_timestamp(value)


def _quoted(connection: Connection, table: Table, names: list[str]) -> str:
    quote = connection.dialect.identifier_preparer.quote
    return f"{quote(table.name)} ({', '.join(quote(name) for name in names)})"
