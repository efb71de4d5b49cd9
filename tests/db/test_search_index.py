"""The opt-in trigram index behind text search: `search-index enable|disable` on PostgreSQL,
used by the executions' search once there, refused in one line on SQLite."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from aa_notebooks.analytics.filters import EXECUTIONS, ExecutionFilter
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.search_index import SEARCH_INDEX
from tests.cli.test_database_commands import run
from tests.db.test_migrations import _index_columns


def _search_plan(url: str) -> str:
    """The plan of a search with sequential scans priced out (the test table is tiny)."""
    query = select(EXECUTIONS.c.id).where(*ExecutionFilter(search="50%_off").clauses())
    compiled = query.compile(get_engine(url), compile_kwargs={"literal_binds": True})
    with get_engine(url).connect() as connection:
        connection.execute(text("SET enable_seqscan = off"))
        return "\n".join(connection.execute(text(f"EXPLAIN {compiled}")).scalars())


def test_enable_and_disable_on_postgresql(
    db_url: str, backend: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if backend != "postgresql":
        code, out, err = run(capsys, "--db", db_url, "search-index", "enable")
        assert code == 2 and "exists only on PostgreSQL" in err and out == ""
        return
    assert SEARCH_INDEX not in _index_columns(db_url, "agentexecutions")  # not by init-db
    assert SEARCH_INDEX not in _search_plan(db_url)
    code, out, _ = run(capsys, "--db", db_url, "search-index", "enable")
    assert (code, out.strip()) == (0, f"trigram search index {SEARCH_INDEX}: created")
    assert SEARCH_INDEX in _index_columns(db_url, "agentexecutions")
    assert SEARCH_INDEX in _search_plan(db_url)  # the search compiles to ILIKE, which it serves
    code, out, _ = run(capsys, "--db", db_url, "search-index", "enable")
    assert (code, out.strip()) == (0, f"trigram search index {SEARCH_INDEX}: already there")
    code, out, _ = run(capsys, "--db", db_url, "search-index", "disable")
    assert (code, out.strip()) == (0, f"trigram search index {SEARCH_INDEX}: dropped")
    assert SEARCH_INDEX not in _index_columns(db_url, "agentexecutions")
