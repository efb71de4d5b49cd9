"""`sql`: a user's own read-only query (the `%%agent_analytics sql` cell), with bound parameters.

The database enforces read-only on a dedicated connection that is discarded afterwards:
SQLite gets `PRAGMA query_only=ON` (and runs one statement per call); PostgreSQL runs the query
in a READ ONLY transaction as a prepared statement, which refuses a second statement (so
`...; COMMIT; DELETE ...` cannot leave the read-only transaction).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError, StatementError

from aa_notebooks.analytics.source import Source
from aa_notebooks.db.engine import connection_errors, explain_connection_error
from aa_notebooks.errors import InvalidInputError


@contextmanager
def _read_only(source: Source) -> Iterator[Connection]:
    with connection_errors(source.engine.url):
        connection = source.engine.connect()
        driver = connection.connection.driver_connection
        if source.dialect.name == "sqlite":
            driver.execute("PRAGMA query_only=ON")
        else:
            driver.prepare_threshold = 0
            connection = connection.execution_options(postgresql_readonly=True)
    try:
        yield connection
    finally:
        connection.invalidate()  # never hand this connection back to the pool
        connection.close()


def run_sql(source: Source, query: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """The rows of a read-only query as a DataFrame; `:name` placeholders take `params`."""
    if not query or not query.strip():
        raise InvalidInputError("the query is empty")
    with _read_only(source) as connection:
        try:
            result = connection.execute(text(query), dict(params or {}))
            if not result.returns_rows:
                raise InvalidInputError(
                    "the query returned no rows: only SELECT-like queries run here"
                )
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise explain_connection_error(exc, source.engine.url) from None
            message = str(exc.orig).strip().splitlines()[0]
            raise InvalidInputError(f"the query failed: {message}") from None
        except StatementError as exc:
            raise InvalidInputError(f"the query failed: {exc.orig or exc}") from None
