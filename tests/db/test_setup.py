"""init_db on the kit's own database: creates what is missing, is idempotent."""

from __future__ import annotations

from sqlalchemy import inspect, text

from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.inspection import check_db, database_info
from aa_notebooks.db.setup import init_db


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
