"""The database's own lines behind the parser gate, on the dedicated ad hoc connection.

SQLite: `query_only`, an authorizer that allows reads and nothing else, and a progress handler
that stops a query past its time. PostgreSQL: a READ ONLY transaction with a local
`statement_timeout`, a catalog check that refuses volatile functions (user-defined ones with
side effects included), and a warning, once per database, when the role is a superuser.
"""

from __future__ import annotations

import os
import sqlite3
import time
import warnings
from collections.abc import Callable, Iterable

from sqlalchemy import Connection, text

from aa_notebooks.analytics.sql_gate import READ_ONLY_PRAGMAS, refused
from aa_notebooks.analytics.sql_scope import SCOPED_TABLES
from aa_notebooks.db.url import mask_url
from aa_notebooks.errors import InvalidInputError, RefusedQueryError

TIMEOUT_ENV = "AA_SQL_TIMEOUT"
DEFAULT_TIMEOUT_SECONDS = 30.0
# Volatile functions that only compute a value (a random number, the clock); pg_sleep is
# bounded by the gate.
VOLATILE_ALLOWED = frozenset(
    {"random", "clock_timestamp", "gen_random_uuid", "timeofday", "pg_sleep"}
)
# SQLite functions the authorizer denies even if the gate missed them.
SQLITE_DENIED_FUNCTIONS = frozenset(
    {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer", "fsdir", "lsdir",
     "zipfile", "eval"}
)  # fmt: skip
# Table-valued functions a scoped session may read besides the data contract's tables.
SQLITE_SCOPED_VIRTUAL_TABLES = frozenset({"json_each", "json_tree"})
READ_ONLY_ROLE_SQL = (
    "CREATE ROLE aa_reader LOGIN PASSWORD 'choose-a-password';\n"
    "GRANT SELECT ON ALL TABLES IN SCHEMA public TO aa_reader;"
)

Authorizer = Callable[[int, str | None, str | None, str | None, str | None], int]

_warned_superuser: set[str] = set()


class SuperuserConnectionWarning(UserWarning):
    """The analytics database is reached as a PostgreSQL superuser."""


def timeout_seconds() -> float:
    """The ad hoc query time limit: $AA_SQL_TIMEOUT seconds, else 30."""
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= 86_400:
        raise InvalidInputError(
            f"{TIMEOUT_ENV} must be a number of seconds between 0 and 86400; got {raw!r}"
        )
    return seconds


def timed_out(seconds: float) -> InvalidInputError:
    """The one line for a query stopped at its time limit."""
    return InvalidInputError(
        f"the query ran longer than {seconds:g} s and was stopped; narrow it, or raise "
        f"${TIMEOUT_ENV} (seconds)"
    )


# SQLite ---------------------------------------------------------------------------------------


def guard_sqlite(driver: sqlite3.Connection, *, scoped: bool, seconds: float) -> None:
    """Make this connection refuse everything but reads (and, scoped, any table outside the
    scope), and stop a statement that runs past `seconds`."""
    driver.execute("PRAGMA query_only=ON")
    driver.set_authorizer(_sqlite_authorizer(scoped))
    deadline = time.monotonic() + seconds
    driver.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)


def release_sqlite(driver: sqlite3.Connection) -> None:
    """Remove the authorizer and the handler (before the connection is closed and discarded)."""
    driver.set_authorizer(None)
    driver.set_progress_handler(None, 0)


_SCOPED_READABLE = frozenset({*SCOPED_TABLES, *SQLITE_SCOPED_VIRTUAL_TABLES})


def _scoped_readable(table: str, column: str) -> bool:
    """What a scoped session may read: the scoped tables (the rewrite keeps them to the user's
    rows), json_each and json_tree, its own CTEs (renamed `aa_cte_N` by the rewrite; SQLite asks
    for one joined without a column read) and the schema table's row ids, which SQLite reads to
    set up json_each."""
    if table in _SCOPED_READABLE or table.startswith("aa_cte_"):
        return True
    return table == "sqlite_master" and column == "rowid"


def _sqlite_authorizer(scoped: bool) -> Authorizer:

    def authorize(
        action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None
    ) -> int:
        if action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_RECURSIVE):
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_READ:
            if scoped and not _scoped_readable((arg1 or "").lower(), (arg2 or "").lower()):
                return sqlite3.SQLITE_DENY
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_FUNCTION:
            denied = (arg2 or "").lower() in SQLITE_DENIED_FUNCTIONS
            return sqlite3.SQLITE_DENY if denied else sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_PRAGMA:
            allowed = not scoped and (arg1 or "").lower() in READ_ONLY_PRAGMAS
            return sqlite3.SQLITE_OK if allowed else sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_UPDATE and (arg1 or "").lower() == "sqlite_master":
            # SQLite asks this while it sets up an eponymous virtual table (json_each,
            # pragma_table_info) for a read; query_only stops any real write to the schema.
            return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY

    return authorize


# PostgreSQL -----------------------------------------------------------------------------------


def guard_postgres(connection: Connection, *, seconds: float) -> None:
    """Limit this (read-only) transaction's statements to `seconds`, and warn once per
    database when the role is a superuser."""
    milliseconds = str(max(1, round(seconds * 1000)))
    # standard_conforming_strings on: a backslash in a string is text, as the parser read it.
    connection.execute(
        text(
            "SELECT set_config('statement_timeout', :ms, true), "
            "set_config('standard_conforming_strings', 'on', true)"
        ),
        {"ms": milliseconds},
    )
    key = mask_url(connection.engine.url)
    if key in _warned_superuser:
        return
    is_superuser = connection.execute(text("SELECT current_setting('is_superuser')")).scalar()
    _warned_superuser.add(key)
    if is_superuser == "on":
        # warn_explicit: the kit's name as the place, not a line of its source code.
        warnings.warn_explicit(
            f"{key} is reached as a PostgreSQL superuser: ad hoc SQL is checked before it runs "
            "and runs read-only, but a superuser can read and write server files through "
            "anything a check misses. Connect notebooks with a read-only role, made by:\n"
            f"{READ_ONLY_ROLE_SQL}",
            SuperuserConnectionWarning,
            filename="aa-notebooks",
            lineno=0,
            module=__name__,
        )


def refuse_catalog_functions(
    connection: Connection, functions: Iterable[str], fields: Iterable[str], *, scoped: bool
) -> None:
    """Ask the catalog about the functions the query calls: refuse one that is volatile (may
    change something), unless it is a known harmless one, and in a scoped session one that is
    not built in (it could read any table). A `row.name` field is checked too, since
    PostgreSQL runs name(row) for it."""
    names, field_names = sorted(set(functions)), sorted(set(fields))
    if not names and not field_names:
        return
    rows = connection.execute(
        text(
            "SELECT p.proname, bool_or(p.provolatile = 'v') AS volatile, "
            "bool_and(n.nspname NOT IN ('pg_catalog', 'information_schema')) AS added "
            "FROM pg_catalog.pg_proc AS p "
            "JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace "
            "WHERE p.proname = ANY(:names) OR (p.proname = ANY(:fields) AND p.pronargs = 1) "
            "GROUP BY p.proname ORDER BY p.proname"
        ),
        {"names": names, "fields": field_names},
    ).all()
    for name, volatile, added in rows:
        if volatile and name not in VOLATILE_ALLOWED:
            raise refused(
                f"{name}() is volatile in this database (it may change something outside the query)"
            )
        if added and scoped:
            raise RefusedQueryError(
                f"refused: {name}() is not built into PostgreSQL and could read any table; a "
                "user-scoped session calls built-in functions only"
            )
