"""Each refused class of ad hoc statement, on a real database, and the target left untouched.

PostgreSQL is reached as a superuser (as many notebooks are), for whom the read-only transaction
alone would not stop these. Each test asserts the one-line refusal, then looks at what the
statement aimed at: the file does not exist, the rows are still there, the other session still
runs, the lock is free, the sequence has not moved, SQLite is still in WAL mode. Where it is
cheap, the same statement sent straight to the database shows the attack is real here.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from aa_notebooks.analytics import Analytics, connect
from aa_notebooks.db.engine import dispose_engine
from aa_notebooks.errors import RefusedQueryError
from tests.analytics import dataset

EXECUTIONS = 12  # rows in the hand-made dataset


@pytest.fixture
def superuser(db_url: str, superuser_db_url: str) -> Analytics:
    """All users' analytics over the dataset, as a PostgreSQL superuser (SQLite: the file)."""
    dataset.load(db_url)
    return connect(superuser_db_url, now=lambda: dataset.NOW)


@pytest.fixture
def server_dir() -> Iterator[Path]:
    """An empty directory the PostgreSQL server (another OS user, same machine) may write to."""
    path = Path(tempfile.mkdtemp(prefix="aa-sqlguard-", dir="/tmp"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def psycopg_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def direct(url: str, statement: str) -> list[tuple]:
    """Run a statement straight on the database (autocommit), bypassing the kit."""
    if url.startswith("sqlite"):
        connection = sqlite3.connect(make_url(url).database)
        try:
            return connection.execute(statement).fetchall()
        finally:
            connection.close()
    with psycopg.connect(psycopg_url(url), autocommit=True) as connection:
        cursor = connection.execute(statement)
        return cursor.fetchall() if cursor.description else []


def executions(url: str) -> int:
    return int(direct(url, "SELECT count(*) FROM agentexecutions")[0][0])


def refuses(analytics: Analytics, query: str, reason: str) -> None:
    with pytest.raises(RefusedQueryError) as refusal:
        analytics.sql(query)
    message = str(refusal.value)
    assert message.startswith("refused: ") and reason in message, message
    assert "only one SELECT runs here" in message


# Both databases -------------------------------------------------------------------------------


def test_a_data_modifying_cte_deletes_nothing(superuser: Analytics, superuser_db_url: str) -> None:
    refuses(
        superuser,
        "WITH gone AS (DELETE FROM agentexecutions RETURNING id) SELECT count(*) FROM gone",
        "DELETE changes data",
    )
    assert executions(superuser_db_url) == EXECUTIONS


def test_two_statements_delete_nothing(superuser: Analytics, superuser_db_url: str) -> None:
    refuses(superuser, "SELECT 1; DELETE FROM agentexecutions", "2 statements were given")
    refuses(superuser, "COMMIT; DELETE FROM agentexecutions", "2 statements were given")
    assert executions(superuser_db_url) == EXECUTIONS


def test_select_into_creates_no_table(superuser: Analytics, superuser_db_url: str) -> None:
    refuses(superuser, "SELECT * INTO stolen FROM agentexecutions", "SELECT ... INTO creates")
    with pytest.raises(Exception, match="stolen"):
        direct(superuser_db_url, "SELECT count(*) FROM stolen")


# PostgreSQL as a superuser --------------------------------------------------------------------

postgres_only = pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


@postgres_only
def test_copy_to_program_runs_nothing(
    superuser: Analytics, superuser_db_url: str, server_dir: Path
) -> None:
    proof, target = server_dir / "proof", server_dir / "target"
    # The program reads its input: one that exits first (`touch`) can break the server's pipe.
    direct(superuser_db_url, f"COPY (SELECT 1) TO PROGRAM 'cat > {proof}'")
    assert proof.read_text() == "1\n"  # the attack is real for this role on this server
    refuses(
        superuser,
        f"COPY (SELECT 1) TO PROGRAM 'cat > {target}'",
        "COPY reads or writes files and programs outside the database",
    )
    assert not target.exists()


@postgres_only
def test_copy_to_a_file_writes_nothing(superuser: Analytics, server_dir: Path) -> None:
    target = server_dir / "rows.csv"
    refuses(superuser, f"COPY agentexecutions TO '{target}'", "COPY reads or writes files")
    refuses(superuser, f"COPY (SELECT 1) TO '{target}'", "COPY reads or writes files")
    assert not target.exists()


@postgres_only
def test_lo_export_writes_no_file_and_makes_no_object(
    superuser: Analytics, superuser_db_url: str, server_dir: Path
) -> None:
    target = server_dir / "exported"
    refuses(
        superuser,
        f"SELECT lo_export(lo_from_bytea(0, 'secret'), '{target}')",
        "lo_export() reads or writes large objects",
    )
    assert not target.exists()
    assert direct(superuser_db_url, "SELECT count(*) FROM pg_largeobject_metadata") == [(0,)]


@postgres_only
def test_pg_read_file_reads_nothing(superuser: Analytics) -> None:
    refuses(superuser, "SELECT pg_read_file('/etc/passwd')", "pg_read_file() reads files")
    refuses(
        superuser,
        "SELECT pg_catalog.pg_read_binary_file('/etc/passwd')",
        "pg_read_binary_file() reads files",
    )
    # PostgreSQL reads 'a\' as a whole string, then the call: the gate sees the call too.
    refuses(superuser, "SELECT 'a\\', pg_read_file('/etc/passwd') --'", "pg_read_file()")


@postgres_only
def test_pg_terminate_backend_leaves_the_other_session_running(
    superuser: Analytics, superuser_db_url: str
) -> None:
    with psycopg.connect(psycopg_url(superuser_db_url), autocommit=True) as other:
        pid = other.execute("SELECT pg_backend_pid()").fetchone()[0]
        refuses(superuser, f"SELECT pg_terminate_backend({pid})", "pg_terminate_backend()")
        refuses(superuser, f"SELECT pg_cancel_backend({pid})", "pg_cancel_backend()")
        assert other.execute("SELECT 1").fetchone() == (1,)


@postgres_only
def test_dblink_exec_deletes_nothing(superuser: Analytics, superuser_db_url: str) -> None:
    try:
        direct(superuser_db_url, "CREATE EXTENSION IF NOT EXISTS dblink")
    except psycopg.Error as exc:  # only this case may skip: the extension is not installed
        pytest.skip(f"the dblink extension cannot be created here: {exc}")
    url = make_url(superuser_db_url)
    conninfo = (
        f"host={url.host} port={url.port} dbname={url.database} user={url.username} "
        f"password={url.password}"
    )
    refuses(
        superuser,
        f"SELECT dblink_exec('{conninfo}', 'DELETE FROM agentexecutions')",
        "dblink_exec() opens a connection",
    )
    refuses(
        superuser,
        f"SELECT * FROM dblink('{conninfo}', 'DELETE FROM agentexecutions RETURNING 1') "
        "AS t(x int)",
        "dblink() opens a connection",
    )
    assert executions(superuser_db_url) == EXECUTIONS


@postgres_only
def test_set_config_changes_no_setting(superuser: Analytics) -> None:
    refuses(superuser, "SELECT set_config('statement_timeout', '0', false)", "set_config() changes")
    shown = superuser.sql("SELECT current_setting('statement_timeout') AS timeout")
    assert shown["timeout"].tolist() == ["30s"]  # the kit's limit is still in force


@postgres_only
def test_nextval_moves_no_sequence(superuser: Analytics, superuser_db_url: str) -> None:
    direct(superuser_db_url, "CREATE SEQUENCE invoice_numbers")
    refuses(superuser, "SELECT nextval('invoice_numbers')", "nextval() moves sequences")
    refuses(superuser, "SELECT setval('invoice_numbers', 99)", "setval() moves sequences")
    state = direct(superuser_db_url, "SELECT last_value, is_called FROM invoice_numbers")
    assert state == [(1, False)]


@postgres_only
def test_advisory_lock_is_not_taken(superuser: Analytics, superuser_db_url: str) -> None:
    refuses(superuser, "SELECT pg_advisory_lock(4242)", "pg_advisory_lock() takes advisory")
    assert direct(superuser_db_url, "SELECT pg_try_advisory_lock(4242)") == [(True,)]


@postgres_only
def test_query_to_xml_runs_no_query(superuser: Analytics) -> None:
    refuses(
        superuser,
        "SELECT query_to_xml('SELECT * FROM agentexecutions', true, false, '')",
        "query_to_xml() runs a query",
    )
    refuses(superuser, "SELECT table_to_xml('users', true, false, '')", "table_to_xml() runs")


@postgres_only
def test_for_update_locks_no_row(superuser: Analytics, superuser_db_url: str) -> None:
    refuses(superuser, "SELECT id FROM agentexecutions FOR UPDATE", "FOR UPDATE/FOR SHARE")
    rows = direct(superuser_db_url, "SELECT id FROM agentexecutions FOR UPDATE NOWAIT")
    assert len(rows) == EXECUTIONS


@postgres_only
def test_a_volatile_user_function_is_refused_by_the_catalog(
    superuser: Analytics, superuser_db_url: str
) -> None:
    """A function the gate does not know by name, which writes: the catalog says volatile."""
    direct(superuser_db_url, "CREATE TABLE visits (at timestamptz)")
    direct(
        superuser_db_url,
        "CREATE FUNCTION record_visit() RETURNS int LANGUAGE sql VOLATILE "
        "AS $$ INSERT INTO visits VALUES (now()) RETURNING 1 $$",
    )
    with pytest.raises(RefusedQueryError, match=r"^refused: record_visit\(\) is volatile"):
        superuser.sql("SELECT record_visit() AS n")
    assert direct(superuser_db_url, "SELECT count(*) FROM visits") == [(0,)]
    # The short list of harmless volatile functions still runs.
    frame = superuser.sql("SELECT random() < 1 AS r, gen_random_uuid() IS NOT NULL AS u")
    assert frame.values.tolist() == [[True, True]]


@postgres_only
def test_pg_sleep_only_within_its_bound(superuser: Analytics) -> None:
    refuses(superuser, "SELECT pg_sleep(600)", "pg_sleep() longer than 5 s")
    assert superuser.sql("SELECT pg_sleep(0.01)::text AS slept")["slept"].tolist() == [""]


# SQLite ---------------------------------------------------------------------------------------

sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def journal_mode(url: str) -> str:
    return direct(url, "PRAGMA journal_mode")[0][0]


@sqlite_only
def test_attach_creates_no_file(superuser: Analytics, db_url: str, tmp_path: Path) -> None:
    proof, target = tmp_path / "proof.db", tmp_path / "target.db"
    connection = sqlite3.connect(make_url(db_url).database)
    connection.execute(f"ATTACH DATABASE '{proof}' AS proof")
    connection.execute("CREATE TABLE proof.t (a)")
    connection.close()
    assert proof.exists()  # the attack is real
    refuses(superuser, f"ATTACH DATABASE '{target}' AS x", "ATTACH opens (or creates)")
    assert not target.exists()


@sqlite_only
def test_vacuum_into_creates_no_file(superuser: Analytics, tmp_path: Path) -> None:
    target = tmp_path / "copy.db"
    refuses(superuser, f"VACUUM INTO '{target}'", "VACUUM rewrites the database")
    assert not target.exists()


@sqlite_only
def test_journal_mode_stays_wal(superuser: Analytics, db_url: str) -> None:
    assert journal_mode(db_url) == "wal"
    refuses(superuser, "PRAGMA journal_mode=DELETE", "PRAGMA journal_mode can change")
    refuses(superuser, "PRAGMA journal_mode(DELETE)", "PRAGMA journal_mode can change")
    refuses(superuser, "SELECT * FROM pragma_journal_mode('delete')", "pragma_journal_mode")
    assert journal_mode(db_url) == "wal"


@sqlite_only
def test_load_extension_and_file_functions(superuser: Analytics, tmp_path: Path) -> None:
    target = tmp_path / "written"
    refuses(superuser, f"SELECT load_extension('{tmp_path}/evil.so')", "load_extension()")
    refuses(superuser, f"SELECT writefile('{target}', 'x')", "writefile() writes files")
    refuses(superuser, "SELECT readfile('/etc/passwd')", "readfile() reads files")
    assert not target.exists()


@sqlite_only
def test_read_only_pragmas_run(superuser: Analytics) -> None:
    columns = superuser.sql("PRAGMA table_info(budgetalerts)")["name"].tolist()
    assert columns[:3] == ["id", "user_id", "scope"]
    names = superuser.sql("SELECT name FROM pragma_table_info('users') ORDER BY cid")
    assert names["name"].tolist() == ["id", "username", "email"]


@postgres_only
def test_these_tests_reach_postgres_as_a_superuser(superuser_db_url: str) -> None:
    assert direct(superuser_db_url, "SELECT current_setting('is_superuser')") == [("on",)]


@postgres_only
def test_a_server_without_standard_strings_reads_backslashes_as_the_parser_did(
    superuser: Analytics, superuser_db_url: str
) -> None:
    """With standard_conforming_strings off, PostgreSQL would end the first string at `\\'`
    and run the call hidden in the second; the kit turns the setting on for its query."""
    name = make_url(superuser_db_url).database
    direct(superuser_db_url, f'ALTER DATABASE "{name}" SET standard_conforming_strings = off')
    dispose_engine(superuser_db_url)  # new connections take the database's setting
    hidden = "SELECT 'x\\', ' , pg_read_file($$/etc/hostname$$) --' AS b"
    assert superuser.sql(hidden).values.tolist() == [
        ["x\\", " , pg_read_file($$/etc/hostname$$) --"]
    ]
    assert superuser.sql("SELECT current_setting('standard_conforming_strings') AS s")[
        "s"
    ].tolist() == ["on"]


def test_a_query_nested_too_deeply_is_refused(superuser: Analytics) -> None:
    deep = "SELECT " + "(" * 200 + "1" + ")" * 200
    refuses(superuser, deep, "the query is nested too deeply to check")
