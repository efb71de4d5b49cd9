"""Errors of the `aa-notebooks` command are one line without SQL: values the database cannot
take are refused first, and a database error the kit did not foresee is explained by the
catch-all without the statement or its parameters; AA_DEBUG=1 brings the traceback back."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.exc import OperationalError

from aa_notebooks.cli import main
from aa_notebooks.db.url import mask_url, resolve_url

SECRET_NAME = "hunter2-budget-name"


def _stderr_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err.rstrip("\n")


def test_a_page_beyond_64_bits_is_one_line(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--db", db_url, "executions", "--page", "99999999999999999999"])
    line = _stderr_line(capsys)
    assert code == 2
    assert line.startswith("aa-notebooks: error: page must be a whole number 1-")
    assert "SELECT" not in line and "99999999999999999999" in line


@pytest.fixture
def failing_inserts(tmp_path) -> str:
    """A kit database whose budgetalerts has a trigger writing to a table that is gone, so a
    new budget fails inside the database with a real OperationalError."""
    url = f"sqlite:///{tmp_path / 'broken.db'}"
    assert main(["--db", url, "init-db"]) == 0
    with sqlite3.connect(tmp_path / "broken.db") as connection:
        connection.executescript(
            "CREATE TABLE audit (x); DROP TABLE audit;"
            "CREATE TRIGGER audited AFTER INSERT ON budgetalerts "
            "BEGIN INSERT INTO audit VALUES (new.name); END;"
        )
    return url


CREATE = ["budgets", "create", "--threshold-usd", "5", "--alert-type", "warning"]


def test_an_unforeseen_database_error_prints_no_sql_or_parameters(
    failing_inserts: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AA_DEBUG", raising=False)
    capsys.readouterr()
    code = main(["--db", failing_inserts, *CREATE, "--name", SECRET_NAME])
    line = _stderr_line(capsys)
    assert code == 1
    assert line == (
        "aa-notebooks: error: the database lacks a table or column this needs (no such table: "
        "main.audit); `aa-notebooks check-db` lists what is missing (set AA_DEBUG=1 to see the "
        "traceback)"
    )
    assert SECRET_NAME not in line and "INSERT" not in line


def test_aa_debug_shows_the_traceback(
    failing_inserts: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AA_DEBUG", "1")
    with pytest.raises(OperationalError, match=r"no such table: main\.audit"):
        main(["--db", failing_inserts, *CREATE])


def test_rollups_enable_on_a_database_without_the_contracts_tables_is_one_line(
    backend: str, empty_db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """SQLite reports the missing table when the triggers inspect it, PostgreSQL when a
    statement reads it: the same kind of line either way."""
    if backend == "sqlite":  # a database file with a table of its own, not the contract's
        with sqlite3.connect(empty_db_url.removeprefix("sqlite:///")) as connection:
            connection.execute("CREATE TABLE notes (text)")
    code = main(["--db", empty_db_url, "rollups", "enable"])
    line = _stderr_line(capsys)
    assert code == 2
    assert line.startswith("aa-notebooks: error: the database lacks a table")
    assert "agentexecutions" in line and line.endswith(
        "`aa-notebooks check-db` lists what is missing"
    )


@pytest.mark.parametrize("action", ["check", "rebuild", "enable"])
def test_rollups_are_refused_for_one_user(
    db_url: str, action: str, capsys: pytest.CaptureFixture[str]
) -> None:
    user = "7f000000-0000-4000-8000-000000000001"
    code = main(["--db", db_url, "--user", user, "rollups", action])
    assert code == 2
    assert _stderr_line(capsys) == (
        "aa-notebooks: error: rollups hold every user's executions; run `rollups` without "
        "--user (as the database's owner)"
    )


def test_a_port_that_is_not_a_number_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--db", "postgresql://alice:s3cret@127.0.0.1:notaport/x", "overview"])
    assert code == 2
    assert _stderr_line(capsys) == (
        "aa-notebooks: error: cannot parse the database URL "
        "'postgresql://alice:***@127.0.0.1:notaport/x'; use e.g. "
        "sqlite:///path/to/analytics.db or postgresql://user:password@host:5432/dbname"
    )


def test_a_file_that_is_not_a_database_is_one_line(
    tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("these are notes, not a database\n" * 100)
    code = main(["--db", f"sqlite:///{notes}", "overview"])
    assert code == 2
    line = _stderr_line(capsys)
    assert line.startswith(f"aa-notebooks: error: cannot open database sqlite+pysqlite:///{notes}")
    assert line.endswith(
        "file is not a database; the file is not an SQLite database: point --db or "
        "AA_DATABASE_URL at the kit's one"
    )


def test_connect_checks_the_db_it_is_given_and_refuses_a_malformed_user(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--db", db_url, "connect"]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith(mask_url(resolve_url(db_url)) + ": ")
    assert main(["--db", db_url, "--user", "12345", "connect"]) == 2
    assert _stderr_line(capsys) == (
        "aa-notebooks: error: --user must be a UUID like 123e4567-e89b-12d3-a456-426614174000; "
        "got '12345'"
    )
