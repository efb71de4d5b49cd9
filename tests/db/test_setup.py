"""init_db on the kit's own database: creates what is missing, is idempotent."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from aa_notebooks.db import engine as engine_module
from aa_notebooks.db.engine import dispose_engine, get_engine
from aa_notebooks.db.inspection import check_db, database_info
from aa_notebooks.db.setup import init_db
from aa_notebooks.errors import DatabaseUnavailableError


def test_init_creates_every_table_once(empty_db_url: str) -> None:
    first = init_db(empty_db_url)
    assert sorted(first.created_tables) == [
        "aa_notebooks_meta", "agentexecutions", "anomalyalertssent", "apitokens",
        "budgetalertevents",
        "budgetalerts", "budgetgeneration", "budgetspendledger", "executiontraces",
        "otelstagedspans",
        "otelstagedtraces", "rollup_cache_day", "rollup_cache_hour", "rollup_dirty_hours",
        "rollup_executions_day",
        "rollup_executions_hour", "rollup_latency_day", "rollup_latency_hour",
        "rollup_totals_day", "rollup_totals_hour", "rollup_usage_day",
        "rollup_usage_hour", "rollup_writing",
        "runningexecutions",
        "tokenusages", "users",
    ]  # fmt: skip
    second = init_db(empty_db_url)
    assert second.created_tables == [] and not second.foreign_database
    assert check_db(empty_db_url).ok


def test_init_adds_a_missing_kit_table(empty_db_url: str) -> None:
    init_db(empty_db_url)
    with get_engine(empty_db_url).begin() as conn:
        conn.execute(text("DROP TABLE budgetalertevents"))
    assert check_db(empty_db_url).missing_tables == ["budgetalertevents"]
    assert init_db(empty_db_url).created_tables == ["budgetalertevents"]
    assert "budgetalertevents" in inspect(get_engine(empty_db_url)).get_table_names()


def test_check_db_on_an_empty_database(empty_db_url: str) -> None:
    report = check_db(empty_db_url)
    assert "agentexecutions" in report.missing_tables
    assert "all analytics" in str(report)
    assert "aa-notebooks init-db" in str(report)


def test_database_info_counts(db_url: str) -> None:
    info = database_info(db_url)
    assert info.row_counts["agentexecutions"] == 0
    assert info.first_execution is None


def test_init_on_an_up_to_date_sqlite_database_does_not_wait_for_its_write_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer's first flush runs init-db: on a database with every table it only reads, so a
    rebuild or a big batch holding the write lock in another process does not make it fail."""
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    init_db(url)
    dispose_engine(url)
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 300)
    other = sqlite3.connect(tmp_path / "busy.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        report = init_db(url)
    finally:
        other.execute("ROLLBACK")
        other.close()
        dispose_engine(url)
    assert report.created_tables == [] and report.migrations == []


def test_a_locked_sqlite_database_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """init-db that must create tables waits for the write lock; past the busy timeout the error
    names the lock, not a missing directory."""
    url = f"sqlite:///{tmp_path / 'held.db'}"
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 300)
    other = sqlite3.connect(tmp_path / "held.db", isolation_level=None)
    other.execute("CREATE TABLE placeholder (id INTEGER)")
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(DatabaseUnavailableError) as caught:
            init_db(url)
    finally:
        other.execute("ROLLBACK")
        other.close()
        dispose_engine(url)
    assert "database is locked; another process held its write lock" in str(caught.value)
    assert "directory" not in str(caught.value)
