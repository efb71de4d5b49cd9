"""The database's own lines behind the parser gate, tested with the gate out of the way.

SQLite: the authorizer on the ad hoc connection denies what the gate refuses (ATTACH, VACUUM
INTO, a journal_mode change, load_extension, writes), and scoped, every table but the
document's. PostgreSQL: the READ ONLY transaction and its statement timeout. Then the time
limit as a user meets it, the superuser warning (once per database), and the two lines of the
README that make a read-only role, run for real.
"""

from __future__ import annotations

import sqlite3
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from aa_notebooks.analytics import Analytics, connect
from aa_notebooks.analytics.adhoc_sql import read_only_connection
from aa_notebooks.analytics.sql_guards import (
    READ_ONLY_ROLE_SQL,
    SuperuserConnectionWarning,
    guard_sqlite,
    release_sqlite,
)
from aa_notebooks.errors import InvalidInputError
from tests.analytics import dataset

README = Path(__file__).resolve().parents[2] / "README.md"
postgres_only = pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
def sqlite_file(loaded_url: str) -> str:
    return str(make_url(loaded_url).database)


@pytest.fixture
def guarded(sqlite_file: str) -> Iterator[sqlite3.Connection]:
    """A plain sqlite3 connection to the dataset with the ad hoc guards on (unscoped)."""
    connection = sqlite3.connect(sqlite_file)
    guard_sqlite(connection, scoped=False, seconds=30)
    yield connection
    release_sqlite(connection)
    connection.close()


def denied(connection: sqlite3.Connection, statement: str) -> None:
    with pytest.raises(
        sqlite3.DatabaseError, match=r"not authorized|authorization denied|prohibited"
    ):
        connection.execute(statement).fetchall()


@sqlite_only
def test_the_authorizer_denies_what_the_gate_refuses(
    guarded: sqlite3.Connection, sqlite_file: str, tmp_path: Path
) -> None:
    attached, copied = tmp_path / "attached.db", tmp_path / "copy.db"
    denied(guarded, f"ATTACH DATABASE '{attached}' AS x")
    denied(guarded, f"VACUUM INTO '{copied}'")
    denied(guarded, "PRAGMA journal_mode=DELETE")
    denied(guarded, "SELECT * FROM pragma_journal_mode")
    denied(guarded, "SELECT load_extension('/nonexistent/evil.so')")
    denied(guarded, "DELETE FROM agentexecutions")
    denied(guarded, "CREATE TABLE stolen (a)")
    assert not attached.exists() and not copied.exists()
    check = sqlite3.connect(sqlite_file)
    try:
        assert check.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert check.execute("SELECT count(*) FROM agentexecutions").fetchone() == (12,)
    finally:
        check.close()


@sqlite_only
def test_the_authorizer_lets_reads_through(guarded: sqlite3.Connection) -> None:
    assert guarded.execute("SELECT count(*) FROM agentexecutions").fetchone() == (12,)
    assert guarded.execute("PRAGMA table_info(users)").fetchall()[0][1] == "id"
    assert guarded.execute("SELECT sum(value) FROM json_each('[1, 2]')").fetchone() == (3,)
    recursive = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 4) "
    assert guarded.execute(recursive + "SELECT sum(n) FROM r").fetchone() == (10,)
    assert guarded.execute("SELECT random() IS NOT NULL").fetchone() == (1,)


@sqlite_only
def test_the_scoped_authorizer_reads_only_the_documents_tables(sqlite_file: str) -> None:
    connection = sqlite3.connect(sqlite_file)
    guard_sqlite(connection, scoped=True, seconds=30)
    try:
        assert connection.execute("SELECT count(*) FROM executiontraces").fetchone() == (6,)
        denied(connection, "SELECT * FROM sqlite_master")
        denied(connection, "SELECT * FROM budgetspendledger")
        denied(connection, "PRAGMA table_info(users)")
    finally:
        release_sqlite(connection)
        connection.close()


@sqlite_only
def test_sqlite_stops_a_query_past_its_time(sqlite_file: str) -> None:
    connection = sqlite3.connect(sqlite_file)
    guard_sqlite(connection, scoped=False, seconds=0.2)
    endless = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT max(n) FROM r"
    try:
        with pytest.raises(sqlite3.OperationalError, match="interrupted"):
            connection.execute(endless).fetchall()
    finally:
        release_sqlite(connection)
        connection.close()


@postgres_only
def test_postgres_runs_ad_hoc_sql_read_only_with_a_timeout(analytics: Analytics) -> None:
    source = analytics._source
    with read_only_connection(source, scoped=False, seconds=7) as connection:
        shown = connection.execute(text("SELECT current_setting('statement_timeout')"))
        assert shown.scalar() == "7s"
        with pytest.raises(DBAPIError, match="read-only transaction"):
            connection.execute(text("DELETE FROM agentexecutions"))
    assert analytics.sql("SELECT count(*) AS n FROM agentexecutions")["n"].tolist() == [12]


def test_a_query_past_its_time_is_one_clear_line(
    analytics: Analytics, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AA_SQL_TIMEOUT", "0.2")
    slow = (
        "SELECT pg_sleep(3)::text AS slept"
        if backend == "postgresql"
        else "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT max(n) FROM r"
    )
    with pytest.raises(InvalidInputError) as stopped:
        analytics.sql(slow)
    assert str(stopped.value) == (
        "the query ran longer than 0.2 s and was stopped; narrow it, or raise $AA_SQL_TIMEOUT "
        "(seconds)"
    )
    monkeypatch.setenv("AA_SQL_TIMEOUT", "soon")
    with pytest.raises(InvalidInputError, match="AA_SQL_TIMEOUT must be a number of seconds"):
        analytics.sql("SELECT 1 AS one")


def superuser_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, SuperuserConnectionWarning)]


@postgres_only
def test_a_superuser_connection_is_warned_about_once(
    loaded_url: str, superuser_db_url: str
) -> None:
    as_superuser = connect(superuser_db_url)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            as_superuser.sql("SELECT 1 AS one")
        connect(superuser_db_url, user_id=str(dataset.U1)).sql("SELECT 1 AS one")
    (message,) = superuser_warnings(caught)
    assert "is reached as a PostgreSQL superuser" in message
    assert READ_ONLY_ROLE_SQL in message
    assert f":{make_url(superuser_db_url).password}@" not in message  # the URL is masked
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        connect(loaded_url).sql("SELECT 1 AS one")  # aa_test is no superuser
    assert superuser_warnings(caught) == []


@postgres_only
def test_the_readme_read_only_role_works(loaded_url: str, superuser_db_url: str) -> None:
    """The two lines the README and the warning give make a role that reads but cannot write."""
    assert READ_ONLY_ROLE_SQL in README.read_text()
    role, password = f"aa_reader_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    statements = READ_ONLY_ROLE_SQL.replace("aa_reader", role).replace(
        "choose-a-password", password
    )
    admin = make_url(superuser_db_url).set(drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as su:
        for statement in statements.splitlines():
            su.execute(statement)
        try:
            reader_url = make_url(superuser_db_url).set(username=role, password=password)
            reader = connect(reader_url.render_as_string(hide_password=False))
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                counted = reader.sql("SELECT count(*) AS n FROM agentexecutions")
            assert counted["n"].tolist() == [12]
            assert superuser_warnings(caught) == []
            plain = reader_url.set(drivername="postgresql").render_as_string(hide_password=False)
            with (
                psycopg.connect(plain, autocommit=True) as as_reader,
                pytest.raises(psycopg.errors.InsufficientPrivilege),
            ):
                as_reader.execute("DELETE FROM agentexecutions")
        finally:
            from aa_notebooks.db.engine import dispose_engine

            dispose_engine(reader_url.render_as_string(hide_password=False))
            su.execute(f"DROP OWNED BY {role}")
            su.execute(f"DROP ROLE {role}")
