"""An opt-in trigram index on the executions' query previews, for text search on PostgreSQL.

The executions grid and `executions --search` find text anywhere in a preview (ILIKE '%text%'),
which no B-tree serves: at a million executions that reads the whole window, 0.5-1 s to count
(the grid shows the first 1,000 matches at once and counts the rest in the background). A GIN
index of pg_trgm trigrams answers the same ILIKE in 25-90 ms, but costs recording 16% of its
throughput (BENCHMARKS.md), so it is made on request: `aa-notebooks search-index enable`.
pg_trgm is a trusted extension: a role that may create objects in the database can add it.
SQLite has no such index (an FTS5 trigram table cost more per insert than recording itself).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, inspect
from sqlalchemy.exc import DBAPIError

from aa_notebooks.errors import InvalidInputError

SEARCH_INDEX = "ix_agentexecutions_query_preview_trgm"
ONLY_POSTGRESQL = (
    "the trigram search index exists only on PostgreSQL; on SQLite a text search reads the "
    "window's rows (the grid counts past its first 1,000 matches in the background)"
)


@dataclass(frozen=True)
class SearchIndexReport:
    """Whether the database has the trigram index after the command, and what changed."""

    present: bool
    changed: bool

    def __str__(self) -> str:
        if self.present:
            done = "created" if self.changed else "already there"
            return f"trigram search index {SEARCH_INDEX}: {done}"
        done = "dropped" if self.changed else "not there"
        return f"trigram search index {SEARCH_INDEX}: {done}"


def has_search_index(connection: Connection) -> bool:
    """Whether agentexecutions has the trigram index."""
    indexes = inspect(connection).get_indexes("agentexecutions")
    return any(index["name"] == SEARCH_INDEX for index in indexes)


def enable_search_index(engine: Engine) -> SearchIndexReport:
    """Add pg_trgm when missing and build the index (minutes at tens of millions of rows)."""
    _require_postgresql(engine)
    with engine.begin() as connection:
        if has_search_index(connection):
            return SearchIndexReport(present=True, changed=False)
        try:
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except DBAPIError as exc:
            first = str(exc.orig).strip().splitlines()[0]
            raise InvalidInputError(
                f"cannot add the pg_trgm extension ({first}); ask the database owner to run "
                "CREATE EXTENSION pg_trgm, then run this again"
            ) from None
        connection.exec_driver_sql(
            f"CREATE INDEX {SEARCH_INDEX} ON agentexecutions USING gin (query_preview gin_trgm_ops)"
        )
    return SearchIndexReport(present=True, changed=True)


def disable_search_index(engine: Engine) -> SearchIndexReport:
    """Drop the index (the extension stays: other objects may use it)."""
    _require_postgresql(engine)
    with engine.begin() as connection:
        present = has_search_index(connection)
        connection.exec_driver_sql(f"DROP INDEX IF EXISTS {SEARCH_INDEX}")
    return SearchIndexReport(present=False, changed=present)


def _require_postgresql(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        raise InvalidInputError(ONLY_POSTGRESQL)
