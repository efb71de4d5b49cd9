"""The `aa-notebooks` database commands through the entry point: output, exit codes, errors."""

from __future__ import annotations

import shlex
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from aa_notebooks.cli import main
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.url import mask_url


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_init_db_then_check_db(empty_db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--db", empty_db_url, "init-db")
    assert code == 0
    assert "created tables" in out and "agentexecutions" in out
    code, out, _ = run(capsys, "check-db", "--db", empty_db_url)
    assert (code, out.strip().endswith("is present")) == (0, True)


def test_check_db_on_an_empty_database_exits_1(
    empty_db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if empty_db_url.startswith("sqlite:///"):
        Path(empty_db_url.removeprefix("sqlite:///")).touch()  # an empty SQLite database
    code, out, _ = run(capsys, "--db", empty_db_url, "check-db")
    assert code == 1
    assert "missing table agentexecutions" in out


def test_info_counts_rows(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--db", db_url, "info")
    assert code == 0
    assert "agentexecutions: 0 rows" in out
    code, out, _ = run(capsys, "--db", db_url, "info", "--exact")
    assert code == 0
    assert "agentexecutions: 0 rows" in out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["infoo"], "unknown command 'infoo'; did you mean 'info'?"),
        (["seed", "--executions", "many"], "argument --executions: expected a whole number"),
        (["seed", "--executions", "0"], "must be at least 1, got 0"),
        (["seed", "--colour"], "unrecognized arguments: --colour"),
        (["--db", "mysql://u:pw@h/db", "init-db"], "unsupported database 'mysql'"),
        (["--db", "sqlite:///{tmp}/missing.db", "info"], "no database yet at"),
        (["--db", "postgresql://u:pw@127.0.0.1:1/x", "init-db"], "cannot open database"),
    ],
)
def test_errors_are_one_line(
    argv: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, *[a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("aa-notebooks: error: ")
    assert expected in err
    assert ":pw@" not in err
    assert not (tmp_path / "missing.db").exists()


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("aa-notebooks")
    result = subprocess.run([script, "--help"], capture_output=True, text=True, check=True)
    for command in ("init-db", "check-db", "seed", "info", "demo"):
        assert command in result.stdout


DOCUMENT_DDL = Path(__file__).parents[1] / "db" / "document_ddl.sql"


def document_ddl(backend: str) -> list[str]:
    """The data contract's DDL as statements; for SQLite without the enum types (SQLite
    takes any type name) and with CURRENT_TIMESTAMP for NOW()."""
    statements = [s.strip() for s in DOCUMENT_DDL.read_text().split(";") if s.strip()]
    if backend == "sqlite":
        statements = [
            s.replace("DEFAULT NOW()", "DEFAULT CURRENT_TIMESTAMP")
            for s in statements
            if "CREATE TYPE" not in s
        ]
    return statements


def document_sqlite(path: Path) -> str:
    """An SQLite file made at `path` by the data contract's DDL, as another program would make
    it; its URL."""
    with sqlite3.connect(path) as connection:
        for statement in document_ddl("sqlite"):
            connection.execute(statement)
    return f"sqlite:///{path}"


def document_sqlite_with_run(
    path: Path,
    *,
    agent_name: str | None = "a",
    started_at: str = "2026-11-05 10:00:00",
    cost_usd: float = 1.5,
) -> str:
    """`document_sqlite` holding one successful execution written with plain SQL (dashed ids,
    as another program writes them); its URL."""
    url = document_sqlite(path)
    with sqlite3.connect(path) as connection:
        connection.execute(
            "INSERT INTO agentexecutions (id, request_id, session_id, agent_name, status, "
            "cost_usd, started_at) VALUES (?, ?, ?, ?, 'success', ?, ?)",
            (str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4()), agent_name, cost_usd,
             started_at),
        )  # fmt: skip
    return url


def test_check_db_on_the_documents_own_schema_exits_0(
    backend: str, empty_db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with get_engine(empty_db_url).begin() as conn:
        for statement in document_ddl(backend):
            conn.exec_driver_sql(statement)
    code, out, _ = run(capsys, "--db", empty_db_url, "check-db")
    assert code == 0
    lines = out.splitlines()
    assert "the AgentOS analytics tables are all present" in lines[0]
    assert "  missing column agentexecutions.flow_id" in lines
    assert "  disabled: flow-scoped budgets" in lines
    assert "  disabled: agent- and flow-scoped budgets" in lines
    assert "  missing table budgetspendledger" in lines
    if backend == "postgresql":  # the host's users table: recording never writes it here
        with get_engine(empty_db_url).begin() as conn:
            conn.exec_driver_sql("REVOKE INSERT, UPDATE, DELETE ON users FROM CURRENT_USER")
        code, out, _ = run(capsys, "--db", empty_db_url, "check-db")
        assert code == 0 and "may not record" not in out


def test_check_db_exits_1_when_a_document_column_is_missing(
    backend: str, empty_db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with get_engine(empty_db_url).begin() as conn:
        for statement in document_ddl(backend):  # tokenusages.step_number named step instead
            conn.exec_driver_sql(statement.replace("step_number INTEGER\n)", "step INTEGER\n)"))
    code, out, _ = run(capsys, "--db", empty_db_url, "check-db")
    assert code == 1
    assert "lacks part of the AgentOS analytics schema: tokenusages.step_number" in out


def test_check_db_without_a_users_table_exits_0_with_user_names_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The document references users(id) without defining it; a database without the table
    (SQLite takes the REFERENCES anyway) loses only user names, but check-db said it lacked
    part of the schema and exited 1."""
    path = tmp_path / "agentos.db"
    with sqlite3.connect(path) as connection:
        for statement in document_ddl("sqlite"):
            if "CREATE TABLE users" not in statement:
                connection.execute(statement)
    code, out, _ = run(capsys, "--db", f"sqlite:///{path}", "check-db")
    assert code == 0, out
    assert "  missing table users" in out.splitlines()
    assert "  disabled: user names in results (user ids still work)" in out.splitlines()


def test_connect_in_a_terminal_prints_the_export_line(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "connect", db_url)
    assert code == 0
    assert out.splitlines()[0].endswith(": every table and column aa-notebooks uses is present")
    export_line = f"  export AA_DATABASE_URL={shlex.quote(mask_url(db_url))}"
    assert export_line in out.splitlines()
    if "@" in db_url:  # PostgreSQL: the password never shows
        assert ":***@" in out and ":aa_test@" not in out
        assert "(write the password in place of ***)" in out
    # nothing sticks: the next command still opens the default database, which does not exist
    code, _, err = run(capsys, "info")
    assert code == 2 and "no database yet" in err
    code, out, _ = run(capsys, "connect", "--help")
    assert "a terminal prints the AA_DATABASE_URL line" in " ".join(out.split())


@pytest.mark.postgres
def test_a_privilege_the_role_lacks_is_named_with_the_grants(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """It said "the database refused the statement: permission denied for table ...", naming
    neither the role's part nor the fix."""
    from tests.conftest import drop_postgres_database, new_postgres_database

    url, name = new_postgres_database()
    try:
        assert main(["--db", url, "init-db"]) == 0
        with get_engine(url).begin() as connection:
            connection.exec_driver_sql("REVOKE INSERT ON budgetalerts FROM CURRENT_USER")
        capsys.readouterr()
        code = main(["--db", url, "budgets", "create", "--threshold-usd", "5",
                     "--alert-type", "warning"])  # fmt: skip
        assert (code, capsys.readouterr().err) == (
            1,
            "aa-notebooks: error: the database refused this role: permission denied for table "
            "budgetalerts; grant the role what this needs (SELECT on the kit's tables to read; "
            "INSERT, UPDATE, DELETE to record and change budgets; CREATE on the schema for "
            "init-db), or connect as a role that has it (set AA_DEBUG=1 to see the traceback)\n",
        )
    finally:
        drop_postgres_database(url, name)


def check_db_lines(
    url: str, revokes: list[str], capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[str]]:
    """`check-db`'s exit code and lines after the kit database's owner revoked from itself."""
    with get_engine(url).begin() as connection:
        for revoke in revokes:
            connection.exec_driver_sql(f"REVOKE {revoke} FROM CURRENT_USER")
    capsys.readouterr()
    code = main(["--db", url, "check-db"])
    return code, capsys.readouterr().out.splitlines()


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_check_db_names_the_tables_the_role_may_not_read_with_the_grant(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A role that could read the contract's tables but not the rollups passed `check-db`, then
    failed on most commands, which read the rollups."""
    revokes = ["SELECT ON rollup_usage_hour, rollup_executions_day"]
    code, lines = check_db_lines(db_url, revokes, capsys)
    role = make_url(db_url).username
    assert code == 1
    assert lines[0].endswith("; this role may not read 2 of its tables (see below)")
    assert lines[-3:] == [
        "  cannot read table public.rollup_executions_day",
        "  cannot read table public.rollup_usage_hour",
        "  grant it with: GRANT SELECT ON public.rollup_executions_day, public.rollup_usage_hour "
        f"TO {role};",
    ]


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_check_db_says_a_role_that_may_not_write_cannot_record(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Recording upserts the rollups and deletes runs in flight: INSERT alone is not enough."""
    revokes = [
        "INSERT ON tokenusages",
        "UPDATE ON rollup_executions_hour",
        "DELETE ON runningexecutions",
    ]
    code, lines = check_db_lines(db_url, revokes, capsys)
    assert code == 0  # reading and reporting still work
    tables = "public.rollup_executions_hour, public.runningexecutions, public.tokenusages"
    assert lines[-1] == (
        f"  this role may not record runs (it lacks INSERT, UPDATE or DELETE on {tables}); to "
        f"record with it: GRANT SELECT, INSERT, UPDATE, DELETE ON {tables} "
        f"TO {make_url(db_url).username};"
    )


@pytest.mark.postgres
def test_the_grant_check_db_prints_works_as_printed(capsys: pytest.CaptureFixture[str]) -> None:
    """The GRANT named the role and tables unquoted and unqualified: a role `Reader-1` was a
    syntax error, and tables in schema `agents` were not found by the admin who ran it."""
    import contextlib
    import os
    import uuid

    import psycopg

    from aa_notebooks.db.engine import dispose_engine
    from tests.conftest import SUPERUSER_ENV, drop_postgres_database, new_postgres_database

    plain, name = new_postgres_database()
    role = f"Reader-{uuid.uuid4().hex[:6]}"
    superuser = make_url(os.environ[SUPERUSER_ENV]).set(drivername="postgresql")
    admin = superuser.set(database=name).render_as_string(hide_password=False)
    kits = make_url(plain).update_query_dict({"options": "-csearch_path=agents"})
    url = kits.set(username=role, password="pw-of-the-reader").render_as_string(hide_password=False)
    su = psycopg.connect(admin, autocommit=True)
    try:
        su.execute(f'CREATE SCHEMA agents AUTHORIZATION "{make_url(plain).username}"')
        assert main(["--db", kits.render_as_string(hide_password=False), "init-db"]) == 0
        su.execute(f"CREATE ROLE \"{role}\" LOGIN PASSWORD 'pw-of-the-reader'")
        su.execute(f'GRANT USAGE ON SCHEMA agents TO "{role}"')
        su.execute(f'GRANT SELECT ON agents.agentexecutions TO "{role}"')
        capsys.readouterr()
        assert main(["--db", url, "check-db"]) == 1
        out = capsys.readouterr().out
        [grant] = [line for line in out.splitlines() if "grant it with: " in line]
        assert f'TO "{role}";' in grant and "agents.agentexecutions" not in grant
        su.execute(grant.split("grant it with: ")[1])  # as printed, by an admin
        assert main(["--db", url, "check-db"]) == 0
        assert "cannot read" not in capsys.readouterr().out
    finally:
        dispose_engine(url)
        with contextlib.suppress(psycopg.Error):  # the role may not have been made
            su.execute(f'DROP OWNED BY "{role}"')
        su.execute(f'DROP ROLE IF EXISTS "{role}"')
        su.close()
        drop_postgres_database(plain, name)
