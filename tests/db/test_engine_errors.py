"""`explain_database_error`: real failed statements as one kit error line, on both databases,
without the statement or its parameters (which SQLAlchemy's own error text carries)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import StatementError

from aa_notebooks.db.engine import explain_database_error, get_engine
from aa_notebooks.errors import DatabaseUnavailableError, InvalidInputError, SchemaError

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
