"""Bulk INSERTs of a batch's rows by each dialect's fast path, skipping stored executions.

`insert_new` inserts the rows whose id is not stored yet: PostgreSQL gets a binary COPY into a
temporary staging table, then one `INSERT ... SELECT ... ON CONFLICT (id) DO NOTHING`; SQLite
gets the same conflict clause through the driver (multi-row VALUES where the inserted ids are
wanted back, `executemany` otherwise). `insert_rows` inserts rows known to be new (the steps and
usages of executions inserted in the same transaction) straight into their table: binary COPY on
PostgreSQL, many-row INSERTs on SQLite (`insert_storage_rows`). COPY takes the Python values,
which psycopg dumps as the column types the database reports; SQLite takes them in storage form
(see `aa_notebooks.db.bulk`), converted a column at a time. Both skip SQLAlchemy's per-value
conversion, and make each row's tuple only as it is sent; so both check every value against its
column's range first (`check_rows`): COPY would wrap an integer past INTEGER's range silently.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC
from functools import cache
from itertools import chain, islice, repeat
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Enum, Numeric, Table, Uuid
from sqlalchemy.exc import DBAPIError

from aa_notebooks.db.bulk import check_rows, insert_storage_rows, storage_timestamp
from aa_notebooks.db.driver import driver_connection
from aa_notebooks.db.schema import UTCDateTime
from aa_notebooks.db.stored_uuid import StoredText
from aa_notebooks.tracking.ids import new_id_values, uuid_of

Row = dict[str, Any]
_SQLITE_MAX_VARIABLES = 32_766  # SQLite's default limit since 3.32; builds may allow more


def insert_new(
    connection: Connection, table: Table, rows: Sequence[Row], *, returning: bool = False
) -> set[uuid.UUID]:
    """Insert the rows whose id is not in `table`; with `returning`, the ids inserted."""
    inserted: set[uuid.UUID] = set()
    for positions in _same_columns(rows):
        group = [rows[position] for position in positions]
        check_rows(table, group)
        names = list(group[0])
        if connection.dialect.name == "postgresql":
            inserted |= _postgresql(connection, table, names, group, returning)
        else:
            inserted |= _sqlite(connection, table, names, group, returning)
    return inserted


def insert_rows(
    connection: Connection,
    table: Table,
    rows: Sequence[Row],
    parents: Sequence[uuid.UUID] | None = None,
) -> None:
    """Insert rows whose ids are new (children of executions just inserted): no conflict check.

    `parents`, each row's execution id, is written for the rows that leave out `id` and
    `execution_id` (a Run's steps and usages), with a new id, as each tuple is made: so no UUID
    waits in those rows for the writer (see `Run`). A clash of client-made ids (never expected)
    fails the batch, and the writer then sets the one record that clashes aside, as it does any
    record the database refuses.
    """
    for positions in _same_columns(rows):
        group = [rows[position] for position in positions]
        check_rows(table, group)
        given = None
        if parents is not None and "id" not in group[0]:
            given = [parents[position] for position in positions]
        _insert_rows(connection, table, group, given)


def _same_columns(rows: Sequence[Row]) -> list[list[int]]:
    """The rows' positions in groups that name the same columns, in order of first appearance:
    each group is one statement. Records of different sources leave out different columns (a
    Run's execution has a flow_id, a traced one may not), and a column a row leaves out must
    stay out of its INSERT, not take another row's shape."""
    groups: dict[tuple[str, ...], list[int]] = {}
    for position, row in enumerate(rows):
        groups.setdefault(tuple(row), []).append(position)
    return list(groups.values())


def _insert_rows(
    connection: Connection, table: Table, rows: list[Row], parents: list[uuid.UUID] | None
) -> None:
    """One group of `insert_rows`; with `parents`, the rows get ids and their parents' ids."""
    names = list(rows[0])
    if connection.dialect.name == "postgresql":
        values = _copy_tuples(table, names, rows)
        if parents is not None:
            names = ["id", "execution_id", *names]
            values = (
                (uuid_of(made), parent, *row)
                for made, parent, row in zip(new_id_values(len(rows)), parents, values, strict=True)
            )
        _copy(connection, connection.dialect.identifier_preparer.quote(table.name), table,
              names, values)  # fmt: skip
        return
    tuples = _storage_tuples(table, names, rows)
    if parents is not None:
        names = ["id", "execution_id", *names]
        tuples = (
            (f"{made:032x}", f"{parent.int:032x}", *row)
            for made, parent, row in zip(new_id_values(len(rows)), parents, tuples, strict=True)
        )
    with _driver_errors(connection, f"INSERT INTO {table.name}"):
        insert_storage_rows(connection, table, names, tuples, checked=True)


def _postgresql(
    connection: Connection, table: Table, names: list[str], rows: Sequence[Row], returning: bool
) -> set[uuid.UUID]:
    """COPY into a session-local staging table, then move the rows that are new."""
    stage = _stage(connection, table)
    _copy(connection, stage, table, names, _copy_tuples(table, names, rows))
    quote = connection.dialect.identifier_preparer.quote
    selected = ", ".join(
        f"{quote(name)} AT TIME ZONE 'UTC'" if name in _timestamps(table) else quote(name)
        for name in names
    )
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(name) for name in names)}) "
        f"SELECT {selected} FROM {stage} "
        "ON CONFLICT (id) DO NOTHING" + (" RETURNING id" if returning else "")
    )
    result = connection.exec_driver_sql(sql)
    return set(result.scalars()) if returning else set()


def _copy(
    connection: Connection,
    target: str,
    table: Table,
    names: list[str],
    values: Iterable[tuple[Any, ...]],
) -> None:
    """Binary COPY of tuples of `names` into `target` (the table, or its staging table), the
    values dumped by psycopg as the database's column types (`_copy_types`), one at a time."""
    quote = connection.dialect.identifier_preparer.quote
    statement = f"COPY {target} ({', '.join(quote(name) for name in names)}) FROM STDIN"
    types = _copy_types(connection, table.name, tuple(names))
    with (
        _driver_errors(connection, statement),
        driver_connection(connection).cursor() as cursor,
        cursor.copy(statement + " (FORMAT BINARY)") as copy,
    ):
        copy.set_types(types)
        for row in values:
            copy.write_row(row)


def _copy_types(connection: Connection, table: str, names: tuple[str, ...]) -> list[str]:
    """The binary COPY type of each column, read once from the database itself (an attached
    AgentOS one may differ): enums and strings as text, timestamps as timestamptz (the same
    bytes: microseconds since 2000 in UTC), the others as they are."""
    key = (connection.engine.url.render_as_string(hide_password=True), table, names)
    if key not in _copy_type_cache:
        found: dict[str, str] = dict(connection.exec_driver_sql(_COLUMN_TYPES, (table,)).all())
        _copy_type_cache[key] = [found[name] for name in names]
    return _copy_type_cache[key]


_copy_type_cache: dict[tuple[str, str, tuple[str, ...]], list[str]] = {}
_COLUMN_TYPES = """SELECT a.attname, CASE
  WHEN t.typtype = 'e' OR t.typname IN ('varchar', 'bpchar', 'text') THEN 'text'
  WHEN t.typname IN ('timestamp', 'timestamptz') THEN 'timestamptz'
  ELSE t.typname END
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = CAST(%s AS regclass) AND a.attnum > 0 AND NOT a.attisdropped"""


def _stage(connection: Connection, table: Table) -> str:
    """This connection's staging table for `table`, created when missing.

    A temporary table lives as long as the connection and is emptied at each commit (its
    creation is undone with the transaction that made it, hence the check each time). Its
    timestamps are `timestamptz`, so aware datetimes go in as they are and the INSERT converts
    them to the naive UTC that the data contract's `timestamp` columns hold.
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
    cursor = driver_connection(connection).cursor()
    try:
        with _driver_errors(connection, head):
            if not returning:
                cursor.executemany(head + marks + tail, values)
                return inserted
            per_statement = _SQLITE_MAX_VARIABLES // len(names)
            while chunk := list(islice(values, per_statement)):
                sql = head + ", ".join([marks] * len(chunk)) + tail + " RETURNING id"
                cursor.execute(sql, list(chain.from_iterable(chunk)))
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


def _storage_tuples(
    table: Table, names: list[str], rows: Sequence[Row]
) -> Iterator[tuple[Any, ...]]:
    """Rows as tuples of storage-form values, converted a column at a time (one expression per
    value, no call) and zipped as they are consumed: a tuple lives until it is sent, so a batch
    leaves no garbage for the collector to scan."""
    columns = []
    for name in names:
        values = [row[name] for row in rows]
        kind = _kind(table, name)
        if kind is Uuid:  # `storage_uuid`; another program's stored text kept as it is
            values = [
                v if v is None or v.__class__ is StoredText else f"{v.int:032x}" for v in values
            ]
        elif kind is UTCDateTime:  # `storage_timestamp`, the short way for the tracker's UTC
            values = [
                None
                if v is None
                else v.isoformat(" ", "microseconds")[:26]
                if v.tzinfo is UTC
                else storage_timestamp(v)
                for v in values
            ]
        elif kind is Numeric:
            values = [None if v is None else float(v) for v in values]
        elif kind is Enum:
            values = [None if v is None else str(v) for v in values]
        columns.append(values)
    return zip(*columns, strict=True)


def _copy_tuples(table: Table, names: list[str], rows: Sequence[Row]) -> Iterator[tuple[Any, ...]]:
    """Rows as tuples of their values, which psycopg dumps, made as they are consumed; naive
    timestamps (UTC, as the columns hold them) made aware for the timestamptz dumper."""
    pick = itemgetter(*names)
    values: Iterator[tuple[Any, ...]] = (
        (pick(row) for row in rows) if len(names) > 1 else ((pick(row),) for row in rows)
    )
    for position, name in enumerate(names):
        if _kind(table, name) is UTCDateTime and any(
            row[name] is not None and row[name].tzinfo is None for row in rows
        ):
            values = map(_aware, values, repeat(position))
    return values


def _aware(row: tuple[Any, ...], position: int) -> tuple[Any, ...]:
    moment = row[position]
    if moment is None or moment.tzinfo is not None:
        return row
    return (*row[:position], moment.replace(tzinfo=UTC), *row[position + 1 :])


@cache
def _kind(table: Table, name: str) -> type | None:
    """The column's type class where the storage form differs from the Python value."""
    kind = table.c[name].type
    for known in (Uuid, UTCDateTime, Numeric, Enum):
        if isinstance(kind, known):
            return known
    return None


def _quoted(connection: Connection, table: Table, names: list[str]) -> str:
    quote = connection.dialect.identifier_preparer.quote
    return f"{quote(table.name)} ({', '.join(quote(name) for name in names)})"
