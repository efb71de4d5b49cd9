"""Rows per table for `info`: PostgreSQL's estimate for big tables, counted otherwise."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import insert, text

from aa_notebooks.db import row_counts as row_counts_module
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.inspection import database_info
from aa_notebooks.db.schema import User, table_of

USERS = table_of(User)


def add_users(url: str, count: int) -> None:
    with get_engine(url).begin() as connection:
        connection.execute(insert(USERS), [{"id": uuid.uuid4()} for _ in range(count)])


@pytest.fixture
def small_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables of 10 rows or more count as big, so a test needs no million rows."""
    monkeypatch.setattr(row_counts_module, "ESTIMATE_FROM", 10)


@pytest.mark.usefixtures("small_threshold")
def test_a_big_postgresql_table_is_given_as_its_estimate(db_url: str, backend: str) -> None:
    add_users(db_url, 30)
    if backend == "postgresql":
        with get_engine(db_url).begin() as connection:
            connection.execute(text("ANALYZE users"))  # the estimate: exact for 30 rows
    add_users(db_url, 5)  # not in PostgreSQL's estimate until its next ANALYZE

    estimated, exact = database_info(db_url), database_info(db_url, exact=True)

    if backend == "postgresql":
        assert estimated.row_counts["users"] == 30
        assert estimated.estimated == ("users",)
        assert "  users: about 30 rows" in str(estimated)
        assert "PostgreSQL's own estimate" in str(estimated)
    else:  # SQLite keeps no estimate: always counted
        assert estimated.row_counts["users"] == 35
        assert estimated.estimated == ()
    assert exact.row_counts["users"] == 35
    assert exact.estimated == ()
    assert "  users: 35 rows" in str(exact)
    assert "about" not in str(exact)


@pytest.mark.usefixtures("small_threshold")
def test_a_table_never_analysed_is_counted(db_url: str) -> None:
    """PostgreSQL has no estimate (-1) for a table it never analysed: counted, however big."""
    add_users(db_url, 20)  # under autovacuum's threshold of 50 rows: never analysed here
    info = database_info(db_url)
    assert info.row_counts["users"] == 20
    assert "users" not in info.estimated


def test_small_tables_are_counted(db_url: str, backend: str) -> None:
    add_users(db_url, 3)
    if backend == "postgresql":
        with get_engine(db_url).begin() as connection:
            connection.execute(text("ANALYZE users"))
    info = database_info(db_url)
    assert info.row_counts["users"] == 3
    assert info.estimated == ()
