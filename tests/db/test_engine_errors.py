"""`explain_database_error`: real failed statements as one kit error line, on both databases,
without the statement or its parameters (which SQLAlchemy's own error text carries)."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import StatementError

from aa_notebooks.db.engine import connection_errors, explain_database_error, get_engine
from aa_notebooks.errors import (
    DatabaseUnavailableError,
    InvalidInputError,
    SchemaError,
    StoredValueError,
)

SECRET = "hunter2-in-a-parameter"


def _failure(url: str, statement: str) -> StatementError:
    with pytest.raises(StatementError) as caught, get_engine(url).connect() as connection:
        connection.execute(text(statement), {"value": SECRET})
    assert SECRET in str(caught.value) and "[SQL:" in str(caught.value)  # what must not show
    return caught.value


def _assert_one_clean_line(message: str) -> None:
    assert "\n" not in message and SECRET not in message
    assert "SELECT" not in message.upper() and "[SQL" not in message


def test_a_missing_table_is_a_schema_error(db_url: str) -> None:
    error = explain_database_error(_failure(db_url, "SELECT * FROM nowhere WHERE 1 = :value"))
    assert isinstance(error, SchemaError)
    assert str(error).startswith("the database lacks a table or column this needs (")
    assert "nowhere" in str(error) and "aa-notebooks check-db" in str(error)
    _assert_one_clean_line(str(error))


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_refused_value_is_invalid_input(db_url: str) -> None:
    """(SQLite casts any text to an integer.) The driver's line quotes the refused value."""
    error = explain_database_error(_failure(db_url, "SELECT CAST(:value AS integer)"))
    assert isinstance(error, InvalidInputError)
    assert str(error).startswith("the database refused a value: invalid input syntax")
    _assert_one_clean_line(str(error).replace(SECRET, ""))  # the driver quotes the bad value


def test_an_unreachable_server_is_unavailable() -> None:
    engine = get_engine("postgresql://someone:pw@127.0.0.1:1/nothing")
    with pytest.raises(StatementError) as caught, engine.connect():
        pass
    error = explain_database_error(caught.value, engine.url)
    assert isinstance(error, DatabaseUnavailableError)
    assert str(error).startswith("cannot open database postgresql+psycopg://someone:***@")
    _assert_one_clean_line(str(error))


def test_a_failing_sqlite_function_is_a_stored_value_not_an_unopenable_file(tmp_path) -> None:
    """An aggregate of the kit's that fails on a value (text in a number column) was read as a
    file that cannot be opened, and told the user to check its directory."""
    url = make_url(f"sqlite:///{tmp_path / 'a.db'}")
    with (
        pytest.raises(StoredValueError) as caught,
        connection_errors(url),
        sqlite3.connect(tmp_path / "a.db") as connection,
    ):
        connection.create_aggregate("failing", 1, _Failing)
        connection.execute("SELECT failing(1)").fetchall()
    assert str(caught.value) == (
        "SQLite could not compute a result (user-defined aggregate's 'finalize' method raised "
        "error): a value another program stored is probably not of its column's type (text in "
        "a number column)"
    )


class _Failing:
    def step(self, value: object) -> None:
        pass

    def finalize(self) -> float:
        return float("slow")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_failing_sqlite_function_in_a_statement_is_a_stored_value(db_url: str) -> None:
    with pytest.raises(StatementError) as caught, get_engine(db_url).connect() as connection:
        connection.connection.driver_connection.create_aggregate("failing", 1, _Failing)
        connection.execute(text("SELECT failing(1) WHERE 1 != :value"), {"value": SECRET}).all()
    error = explain_database_error(caught.value)
    assert isinstance(error, StoredValueError)
    assert str(error).startswith("SQLite could not compute a result (user-defined aggregate's")
    _assert_one_clean_line(str(error))
