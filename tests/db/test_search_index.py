"""The trigram index behind text search: made by init-db and by a migration on PostgreSQL, used
by the executions' search, absent on SQLite (where the search still works, reading rows)."""

from __future__ import annotations

from sqlalchemy import select, text

from aa_notebooks.analytics.filters import EXECUTIONS, ExecutionFilter
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.search_index import SEARCH_INDEX
from aa_notebooks.db.setup import init_db
from tests.db.test_migrations import _execute, _index_columns


def test_init_db_makes_the_index_on_postgresql_only(empty_db_url: str, backend: str) -> None:
    init_db(empty_db_url)
    present = SEARCH_INDEX in _index_columns(empty_db_url, "agentexecutions")
    assert present is (backend == "postgresql")


def test_the_index_reaches_an_older_database(empty_db_url: str, backend: str) -> None:
    init_db(empty_db_url)
    _execute(
        empty_db_url,
        "DELETE FROM aa_notebooks_migrations WHERE name = 'query_preview_search_index'",
        f"DROP INDEX IF EXISTS {SEARCH_INDEX}",
    )
    assert init_db(empty_db_url).migrations == ["query_preview_search_index"]
    present = SEARCH_INDEX in _index_columns(empty_db_url, "agentexecutions")
    assert present is (backend == "postgresql")
    assert init_db(empty_db_url).migrations == []


def test_a_search_reads_the_index_on_postgresql(db_url: str, backend: str) -> None:
    """With sequential scans priced out (the test table is tiny), the plan of a search must
    go through the trigram index, which only works when the SQL is `ILIKE pattern`."""
    if backend != "postgresql":
        return
    query = select(EXECUTIONS.c.id).where(*ExecutionFilter(search="50%_off").clauses())
    compiled = query.compile(get_engine(db_url), compile_kwargs={"literal_binds": True})
    with get_engine(db_url).connect() as connection:
        connection.execute(text("SET enable_seqscan = off"))
        plan = "\n".join(connection.execute(text(f"EXPLAIN {compiled}")).scalars())
    assert SEARCH_INDEX in plan, plan
