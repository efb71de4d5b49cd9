"""The driver's own connection under a SQLAlchemy connection, and a clear error once it is gone."""

from __future__ import annotations

import sqlite3

import pytest

from aa_notebooks.db.driver import driver_connection
from aa_notebooks.db.engine import get_engine
from aa_notebooks.errors import DatabaseUnavailableError


def test_the_drivers_connection(db_url: str, backend: str) -> None:
    with get_engine(db_url).connect() as connection:
        driver = driver_connection(connection)
        if backend == "sqlite":
            assert isinstance(driver, sqlite3.Connection)
        else:
            import psycopg

            assert isinstance(driver, psycopg.Connection)
        assert driver is connection.connection.dbapi_connection


def test_an_invalidated_connection_is_a_clear_error(db_url: str) -> None:
    with get_engine(db_url).connect() as connection:
        connection.connection.invalidate()
        with pytest.raises(DatabaseUnavailableError, match="connection was lost; run the command"):
            driver_connection(connection)
