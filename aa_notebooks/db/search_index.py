"""A trigram index on the executions' query previews, so a text search does not read every row.

The executions grid and `executions --search` find text anywhere in a preview (ILIKE '%text%'),
which no B-tree serves: at a million executions that read the whole table, 0.5-1.3 s. On
PostgreSQL a GIN index of pg_trgm trigrams answers the same ILIKE in 25-90 ms and costs about
18 µs per inserted execution (measured in BENCHMARKS.md). pg_trgm is a trusted extension (any
role that may create in the database can add it); where it cannot be added the search still
works, only slower. SQLite has no such index: its FTS5 trigram table cost 76 µs per insert,
more than recording itself, so a search there reads the window's rows (SQLite's LIKE, which
ignores ASCII case by itself).
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, inspect
from sqlalchemy.exc import DBAPIError

logger = logging.getLogger(__name__)

SEARCH_INDEX = "ix_agentexecutions_query_preview_trgm"


def install_search_index(connection: Connection) -> bool:
    """Create the trigram index on PostgreSQL (and pg_trgm when missing); whether it exists.

    A role that may not add the extension gets no index and a log line, not an error."""
    if connection.dialect.name != "postgresql":
        return False
    if any(i["name"] == SEARCH_INDEX for i in inspect(connection).get_indexes("agentexecutions")):
        return True
    try:
        with connection.begin_nested():
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DBAPIError as exc:
        logger.warning(
            "no trigram index for text search (pg_trgm could not be added: %s); searches "
            "read every row of their window",
            str(exc.orig).strip().splitlines()[0],
        )
        return False
    connection.exec_driver_sql(
        f"CREATE INDEX IF NOT EXISTS {SEARCH_INDEX} ON agentexecutions "
        "USING gin (query_preview gin_trgm_ops)"
    )
    return True
