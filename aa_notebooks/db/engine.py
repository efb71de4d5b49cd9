"""Engines and sessions for the analytics database, sync and async, SQLite and PostgreSQL.

SQLite connections get WAL, foreign keys and a busy timeout, so an agent process can write while
a notebook reads. Connection failures become one DatabaseUnavailableError line with the fix.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

from aa_notebooks.db.url import is_sqlite, mask_url, resolve_url
from aa_notebooks.errors import DatabaseUnavailableError, MissingExtraError

SQLITE_BUSY_TIMEOUT_MS = 10_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


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


@lru_cache(maxsize=16)
def _cached_engine(url: URL) -> Engine:
    _check_driver(url)
    if is_sqlite(url):
        _prepare_sqlite_file(url)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    return engine


def get_engine(url: str | URL | None = None) -> Engine:
    """The (shared, pooled) engine for a database URL resolved as `resolve_url` does."""
    return _cached_engine(resolve_url(url))


def dispose_engine(url: str | URL | None = None) -> None:
    """Close the pooled connections of a database's engine (before dropping or copying it)."""
    resolved = resolve_url(url)
    _cached_engine(resolved).dispose()
    _cached_engine.cache_clear()


def get_async_engine(url: str | URL | None = None) -> AsyncEngine:
    """An async engine (aiosqlite, or psycopg's async driver) for the same database."""
    resolved = resolve_url(url, asynchronous=True)
    _check_driver(resolved)
    if is_sqlite(resolved):
        _prepare_sqlite_file(resolved)
        engine = create_async_engine(resolved)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(resolved, pool_pre_ping=True)


def session_factory(url: str | URL | None = None) -> sessionmaker[Session]:
    """A sessionmaker bound to the database's engine."""
    return sessionmaker(get_engine(url), expire_on_commit=False)


def async_session_factory(url: str | URL | None = None) -> async_sessionmaker:
    """An async_sessionmaker for the database, for agent code that runs on asyncio."""
    return async_sessionmaker(get_async_engine(url), expire_on_commit=False)


def explain_connection_error(exc: BaseException, url: URL) -> DatabaseUnavailableError:
    """Turn a driver's connection failure into one line that says what to check."""
    shown = mask_url(url)
    original = getattr(exc, "orig", exc)
    detail = str(original).strip().splitlines()[0] if str(original).strip() else type(exc).__name__
    if is_sqlite(url):
        hint = "check that the directory exists and is writable, or set AA_DATABASE_URL"
    else:
        hint = (
            "check that the server is running and the host, port, user, password and database "
            "name are right (e.g. pg_ctlcluster 15 main start), or set AA_DATABASE_URL"
        )
    return DatabaseUnavailableError(f"cannot open database {shown}: {detail}; {hint}")


@contextmanager
def connection_errors(url: URL) -> Iterator[None]:
    """Re-raise driver connection failures inside the block as DatabaseUnavailableError."""
    try:
        yield
    except (OperationalError, sqlite3.OperationalError) as exc:
        raise explain_connection_error(exc, url) from None
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise explain_connection_error(exc, url) from None
        raise
