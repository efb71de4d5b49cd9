"""Engines and sessions for the analytics database, sync and async, SQLite and PostgreSQL.

SQLite connections get foreign keys and a busy timeout, and the kit's files WAL, so an agent
process can write while a notebook reads; a file another program made is switched to WAL only
when the kit records into it (`use_wal`), never by reading it. Connection failures become one
DatabaseUnavailableError line with the fix, and any failed statement becomes one kit error line
without the SQL and parameters that SQLAlchemy puts in its error text (`explain_database_error`).
Hot single-statement reads (the hard-stop check) run on a second pool of autocommit connections
(`autocommit_fetch`), which costs one round trip instead of ping, BEGIN, statement and ROLLBACK.
"""

from __future__ import annotations

import os
import re
import sqlite3
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    NoSuchTableError,
    OperationalError,
    StatementError,
)
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, sessionmaker

from aa_notebooks.db.schema import KitMetadata
from aa_notebooks.db.url import is_sqlite, mask_settings, mask_url, resolve_url
from aa_notebooks.errors import (
    AnalyticsError,
    DatabaseUnavailableError,
    InvalidInputError,
    MissingExtraError,
    SchemaError,
    StoredValueError,
    first_line,
)

SQLITE_BUSY_TIMEOUT_MS = 10_000
READ_LOCK_TIMEOUT_S = 60
"""How long an analytics read on PostgreSQL waits for a lock another session holds (a migration,
VACUUM FULL, LOCK TABLE) before it fails saying so: a report or a dashboard never hangs on one."""
DriverParameters = Mapping[str, Any] | Sequence[Any]
"""A DB-API statement's parameters: by name, or in order for a positional paramstyle."""
# PostgreSQL SQLSTATEs: undefined table, column, object (an enum type) and function.
_MISSING_OBJECT_STATES = frozenset({"42P01", "42703", "42704", "42883"})
# SQLSTATE classes of a server that is gone or refuses: connection exception, operator
# intervention (shutdown), insufficient resources, invalid authorization.
_UNAVAILABLE_STATE_CLASSES = ("08", "57", "53", "28")
_LOCK_NOT_AVAILABLE = "55P03"
_INSUFFICIENT_PRIVILEGE = "42501"
_SQLITE_MISSING = ("no such table", "no such column")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    if _kits_own(cursor):
        with suppress(sqlite3.OperationalError):  # a read-only file (or mode=ro): read as it is
            cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _tolerant_text(dbapi_connection: Any, _record: Any) -> None:
    """Read text that is not valid UTF-8 (bytes another program stored as TEXT, an emoji cut in
    half) with U+FFFD in place of each bad sequence: sqlite3 refuses the whole result instead,
    and one such agent name blanked the dashboard. Half again the time of a plain text read,
    which the kit's reads (aggregates, pages) barely have."""
    dbapi_connection.text_factory = _REPLACING_DECODE


_REPLACING_DECODE = partial(str, encoding="utf-8", errors="replace")


def use_wal(engine: Engine) -> None:
    """Switch an SQLite file to WAL (the file keeps it) before the kit records into it: its
    writer and the notebooks reading it then go side by side, where a rollback journal makes
    a write wait for every read in progress. A read-only file is left as it is."""
    if not is_sqlite(engine.url) or in_memory(engine.url):
        return
    with suppress(sqlite3.OperationalError), engine.connect() as connection:
        driver = connection.connection.driver_connection
        driver.execute("PRAGMA journal_mode=WAL")  # type: ignore[union-attr]


def _kits_own(cursor: Any) -> bool:
    """Whether an SQLite database is the kit's to set up: new (no table yet) or holding the
    kit's tables. Only those are switched to WAL (readers and the writer side by side), a
    setting that stays with the file: one another program made keeps its journal mode."""
    cursor.execute(
        "SELECT count(*), coalesce(sum(name = ?), 0) FROM sqlite_master WHERE type = 'table'",
        (KitMetadata.__tablename__,),
    )
    tables, kits = cursor.fetchone()
    return bool(tables == 0 or kits > 0)


BINARY_RESULTS = "aa_binary_results"
"""An execution option: on PostgreSQL the statement's rows come in the binary format, so a
bytea (a latency sketch) arrives as bytes instead of hex text to decode, half the time of a
90-day read of day sketches. For plain column types only: a value of a type psycopg has no
binary loader for (an enum) would arrive as bytes."""


def _binary_results(
    _conn: Any, cursor: Any, _statement: str, _parameters: Any, context: Any, _many: bool
) -> None:
    if context is not None and context.execution_options.get(BINARY_RESULTS):
        from psycopg import pq

        cursor.format = pq.Format.BINARY


def _prepare_sqlite_file(url: URL) -> None:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _check_driver(url: URL) -> None:
    if url.get_backend_name() == "postgresql":
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise MissingExtraError("psycopg", "postgres") from None


def _create_engine(url: URL, **options: Any) -> Engine:
    _check_driver(url)
    if is_sqlite(url):
        _prepare_sqlite_file(url)
        timeout = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        engine = create_engine(url, connect_args=timeout, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "connect", _tolerant_text)
        if url.database and not in_memory(url):
            event.listen(engine, "connect", _note_file(url.database))
        return engine
    engine = create_engine(url, connect_args={"connect_timeout": 10}, **options)
    event.listen(engine, "before_cursor_execute", _binary_results)
    event.listen(engine, "connect", _utc_session)
    return engine


def _utc_session(dbapi_connection: Any, _record: Any) -> None:
    """Every session in UTC, as the kit reads and writes times: a database whose time zone is
    another (America/New_York) read TIMESTAMPTZ columns in it, and compared them with UTC
    times as if they were its own: a day's runs fell in the next day, a hard stop saw no spend."""
    cursor = dbapi_connection.cursor()  # the async driver's, too (a sync facade over it)
    try:
        cursor.execute("SET TIME ZONE 'UTC'")
    finally:
        cursor.close()
    if not dbapi_connection.autocommit:
        dbapi_connection.commit()


@lru_cache(maxsize=16)
def _cached_engine(url: URL) -> Engine:
    if is_sqlite(url):
        return _create_engine(url)
    return _create_engine(url, pool_pre_ping=True)


_autocommit_engines: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def autocommit_engine(engine: Engine) -> Engine:
    """The engine's twin for `autocommit_fetch`: autocommit connections, nothing to reset on
    return, no ping (a connection the server dropped is replaced when a statement finds it).

    An in-memory SQLite database exists only on the engine's own connection, where a SELECT
    opens no transaction anyway: there it is the engine itself."""
    readers = _autocommit_engines.get(engine)
    if readers is None:
        if in_memory(engine.url):
            readers = engine
        else:
            options = {"isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None}
            readers = _create_engine(engine.url, **options)
        _autocommit_engines[engine] = readers
    return readers


@lru_cache(maxsize=64)
def _engine_for(url: str | URL) -> Engine:
    """The engine for a URL argument (hashing a URL renders it: callers on a hot path pass the
    same string, whose hash Python keeps)."""
    return _cached_engine(resolve_url(url))


_OUT_OF_PYTHON = re.compile(r"too (large|small) \((after|before) year")
"""psycopg's words for a date or time Python cannot hold ('infinity', year 10000)."""

_opened_files: dict[str, tuple[int, int]] = {}
"""The identity (device, inode) of each SQLite file when an engine's connections to it opened,
until `reopen_if_replaced` finds it replaced."""


def file_identity(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """Which file is at `path` now (its device and inode); None when none is."""
    try:
        found = os.stat(path)
    except OSError:  # not made yet, or a URI form: nothing to compare
        return None
    return found.st_dev, found.st_ino


def _note_file(path: str) -> Any:
    """A connect listener noting which file an engine's first connections opened."""

    def noted(_dbapi_connection: Any, _record: Any) -> None:
        if path not in _opened_files and (identity := file_identity(path)) is not None:
            _opened_files[path] = identity

    return noted


def reopen(url: URL) -> None:
    """Close every pooled connection to the database, the engine's and its autocommit twin's,
    and forget which SQLite file they opened: the next ones open what is at the path now."""
    if url.database:
        _opened_files.pop(url.database, None)
    _close_pools(_cached_engine(url))


def reopen_if_replaced(url: URL) -> None:
    """Close the pooled connections to an SQLite file replaced at its path since they opened (a
    restored backup or a new download moved over it): they would go on reading the old, deleted
    file; the engine's next connections open the new one. For a connect, not every statement:
    it asks the file system."""
    if not is_sqlite(url) or in_memory(url) or not url.database:
        return
    opened, now = _opened_files.get(url.database), file_identity(url.database)
    if opened is None or now is None or opened == now:
        return
    del _opened_files[url.database]
    _close_pools(_cached_engine(url))


def get_engine(url: str | URL | None = None) -> Engine:
    """The (shared, pooled) engine for a database URL resolved as `resolve_url` does."""
    return _cached_engine(resolve_url(None)) if url is None else _engine_for(url)


def dispose_engine(url: str | URL | None = None) -> None:
    """Close the pooled connections of a database's engines (before dropping or copying it)."""
    _close_pools(_cached_engine(resolve_url(url)))
    _cached_engine.cache_clear()
    _engine_for.cache_clear()


def _close_pools(engine: Engine) -> None:
    """Close the engine's pooled connections and its autocommit twin's (made anew when next
    needed); the engine itself stays usable and opens new connections."""
    engine.dispose()
    if (readers := _autocommit_engines.pop(engine, engine)) is not engine:
        readers.dispose()


class Fetched(NamedTuple):
    """The rows of a driver statement, with the type code the driver gives each column."""

    type_codes: tuple[Any, ...]
    rows: Sequence[tuple[Any, ...]]


def autocommit_fetch(engine: Engine, statement: str, params: DriverParameters) -> Fetched:
    """The rows of one read-only statement in the driver's own SQL and parameter form, run on
    an autocommit connection to the engine's database: it reads what was committed when it
    started, as one snapshot.

    When the server dropped the connection (a restart), the idle ones are discarded too and the
    statement is retried once on a new one. Failures are raised as SQLAlchemy raises them
    (OperationalError...), with `connection_invalidated` set when the server is gone.
    """
    readers = autocommit_engine(engine)
    try:
        return _fetch(readers, statement, params)
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
    readers.dispose()
    return _fetch(readers, statement, params)


def in_memory(url: URL) -> bool:
    """Whether the URL names an in-memory SQLite database (which only its own connection sees)."""
    database = url.database or ""
    return is_sqlite(url) and (database in ("", ":memory:") or "mode=memory" in str(url))


def _fetch(engine: Engine, statement: str, params: DriverParameters) -> Fetched:
    dbapi = engine.dialect.loaded_dbapi
    connection = engine.raw_connection()
    cursor = None
    try:
        cursor = connection.cursor()
        cursor.execute(statement, params)
        rows = cursor.fetchall()
        return Fetched(tuple(column[1] for column in cursor.description), rows)
    except dbapi.Error as error:
        gone = engine.dialect.is_disconnect(error, connection.dbapi_connection, cursor)
        if gone:
            connection.invalidate(error)
        raise DBAPIError.instance(
            statement, params, error, dbapi.Error, connection_invalidated=gone,
            dialect=engine.dialect,
        ) from error  # fmt: skip
    finally:
        if cursor is not None:
            cursor.close()
        connection.close()


def get_async_engine(url: str | URL | None = None) -> AsyncEngine:
    """An async engine (aiosqlite, or psycopg's async driver) for the same database."""
    resolved = resolve_url(url, asynchronous=True)
    _check_driver(resolved)
    if is_sqlite(resolved):
        _prepare_sqlite_file(resolved)
        engine = create_async_engine(resolved)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_async_engine(resolved, pool_pre_ping=True)
    event.listen(engine.sync_engine, "connect", _utc_session)
    return engine


def session_factory(url: str | URL | None = None) -> sessionmaker[Session]:
    """A sessionmaker bound to the database's engine."""
    return sessionmaker(get_engine(url), expire_on_commit=False)


def async_session_factory(url: str | URL | None = None) -> async_sessionmaker[AsyncSession]:
    """An async_sessionmaker for the database, for agent code that runs on asyncio."""
    return async_sessionmaker(get_async_engine(url), expire_on_commit=False)


def explain_connection_error(exc: BaseException, url: URL) -> DatabaseUnavailableError:
    """Turn a driver's connection failure into one line that says what to check."""
    shown = mask_url(url)
    original = getattr(exc, "orig", exc)
    detail = str(original).strip().splitlines()[0] if str(original).strip() else type(exc).__name__
    detail = mask_settings(detail)
    if is_sqlite(url) and "not a database" in detail:
        hint = "the file is not an SQLite database: point --db or AA_DATABASE_URL at the kit's one"
    elif is_sqlite(url) and "locked" in detail:
        hint = (
            "another process held its write lock longer than this waits "
            "(a rollups rebuild, init-db or a big batch); try again when it is done"
        )
    elif is_sqlite(url):
        hint = "check that the directory exists and is writable, or set AA_DATABASE_URL"
    else:
        hint = (
            "check that the server is running and the host, port, user, password and database "
            "name are right (e.g. pg_ctlcluster 15 main start), or set AA_DATABASE_URL"
        )
    return DatabaseUnavailableError(f"cannot open database {shown}: {detail}; {hint}")


def explain_database_error(exc: StatementError, url: URL | None = None) -> AnalyticsError:
    """A failed statement as one kit error: DatabaseUnavailableError (server gone, refused,
    busy), SchemaError (a missing table or column), InvalidInputError (a value the database
    refused), else AnalyticsError. The text is the driver's first line: never the statement or
    its parameters, which SQLAlchemy appends and which may hold anyone's data."""
    original = exc.orig if exc.orig is not None else exc
    detail = first_line(original, type(original).__name__)
    state = str(getattr(original, "sqlstate", None) or "")
    gone = isinstance(exc, DBAPIError) and exc.connection_invalidated
    if gone or state.startswith(_UNAVAILABLE_STATE_CLASSES):
        return _unavailable(exc, url, detail)
    if state in _MISSING_OBJECT_STATES or detail.startswith(_SQLITE_MISSING):
        return SchemaError(
            f"the database lacks a table or column this needs ({detail}); "
            "`aa-notebooks check-db` lists what is missing"
        )
    if failed := _failed_function(detail):
        return failed
    if state == _INSUFFICIENT_PRIVILEGE:
        return AnalyticsError(
            f"the database refused this role: {detail}; grant the role what this needs (SELECT on "
            "the kit's tables to read; INSERT, UPDATE, DELETE to record and change budgets; "
            "CREATE on the schema for init-db), or connect as a role that has it"
        )
    if state == _LOCK_NOT_AVAILABLE:
        return DatabaseUnavailableError(
            f"another session held a lock on a table this reads for over {READ_LOCK_TIMEOUT_S} s "
            "(a migration, VACUUM FULL or LOCK TABLE); try again when it is done"
        )
    if isinstance(exc, DataError | IntegrityError) or state.startswith(("22", "23")):
        return InvalidInputError(f"the database refused a value: {detail}")
    if isinstance(exc, OperationalError):
        return _unavailable(exc, url, detail)
    return AnalyticsError(f"the database refused the statement: {detail}")


def _failed_function(detail: str) -> StoredValueError | None:
    """SQLite's words for a function of the kit's that failed on a value (an aggregate's step):
    not a file that cannot be opened, as its OperationalError would otherwise read."""
    if not detail.startswith("user-defined"):
        return None
    return StoredValueError(
        f"SQLite could not compute a result ({first_line(detail)}): a value another program "
        "stored is probably not of its column's type (text in a number column)"
    )


def _unavailable(exc: BaseException, url: URL | None, detail: str) -> DatabaseUnavailableError:
    if url is not None:
        return explain_connection_error(exc, url)
    return DatabaseUnavailableError(f"the database is unreachable or busy: {detail}")


def _not_a_database(exc: DBAPIError) -> bool:
    """SQLite's answer when the file holds something else (raised as it is opened)."""
    return isinstance(exc.orig, sqlite3.DatabaseError) and "not a database" in str(exc.orig)


@contextmanager
def connection_errors(url: URL) -> Iterator[None]:
    """Re-raise driver connection failures and missing tables inside the block as kit errors:
    DatabaseUnavailableError, SchemaError. (SQLite reports a missing table as it reports a
    connection failure, PostgreSQL as a ProgrammingError, inspection as NoSuchTableError.)"""
    try:
        yield
    except NoSuchTableError as exc:
        raise SchemaError(
            f"the database lacks a table this needs ({exc}); "
            "`aa-notebooks check-db` lists what is missing"
        ) from None
    except sqlite3.DatabaseError as exc:  # OperationalError, or a file that is no database
        if failed := _failed_function(str(exc)):
            raise failed from None
        raise explain_connection_error(exc, url) from None
    except OperationalError as exc:
        raise explain_database_error(exc, url) from None
    except DataError as exc:
        if not _OUT_OF_PYTHON.search(str(exc.orig)):
            raise
        raise StoredValueError(
            f"a stored time is outside what Python holds ({first_line(str(exc.orig))}): another "
            "program wrote it; set it to a real time (or NULL) to read this row"
        ) from None
    except DBAPIError as exc:
        if exc.connection_invalidated or _not_a_database(exc):
            raise explain_connection_error(exc, url) from None
        if isinstance(explained := explain_database_error(exc, url), SchemaError):
            raise explained from None  # PostgreSQL's missing table (a ProgrammingError)
        raise
