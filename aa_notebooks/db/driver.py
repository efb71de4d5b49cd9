"""The DBAPI driver's own connection (sqlite3 or psycopg) under a SQLAlchemy connection.

The fast paths (COPY, many-row INSERTs, SQLite aggregates) talk to the driver directly.
SQLAlchemy types that connection as optional: it is None once the connection was invalidated.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from aa_notebooks.errors import DatabaseUnavailableError


def driver_connection(connection: Connection) -> Any:
    """The driver connection (typed Any: sqlite3 and psycopg share no interface)."""
    driver = connection.connection.driver_connection
    if driver is None:
        raise DatabaseUnavailableError("the database connection was lost; run the command again")
    return driver
