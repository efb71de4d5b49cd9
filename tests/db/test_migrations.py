"""Migrations: a new database records them without running them; a database of an earlier
release gets the ones it lacks, once, keeping its rows; an AgentOS database is left alone."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.engine import make_url

from aa_notebooks.db import migrations
from aa_notebooks.db.migrations import Migration, add_column, add_index
from aa_notebooks.db.setup import init_db

NEVER_RUN = "a new database must not run migrations: the models already have their changes"


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Migration]]:
    """The migration list, emptied for the test and restored afterwards."""
    steps: list[Migration] = []
    monkeypatch.setattr(migrations, "MIGRATIONS", steps)
    yield steps


def _execute(url: str, *statements: str) -> list[tuple]:
    engine = create_engine(make_url(url).set(drivername=_driver(url)))
    try:
        with engine.begin() as connection:
            rows: list[tuple] = []
            for statement in statements:
                result = connection.execute(text(statement))
                rows = [tuple(row) for row in result] if result.returns_rows else []
            return rows
    finally:
        engine.dispose()


def _driver(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql+psycopg"


def _columns(url: str, table: str) -> set[str]:
    engine = create_engine(make_url(url).set(drivername=_driver(url)))
    try:
        return {column["name"] for column in inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def _indexes(url: str, table: str) -> set[str]:
    engine = create_engine(make_url(url).set(drivername=_driver(url)))
    try:
        return {index["name"] for index in inspect(engine).get_indexes(table)}
    finally:
        engine.dispose()


def test_a_new_database_records_migrations_without_running_them(
    empty_db_url: str, registry: list[Migration]
) -> None:
    def refuse(connection: Connection) -> None:
        raise AssertionError(NEVER_RUN)

    registry.append(Migration("0001_example", refuse))
    report = init_db(empty_db_url)
    assert report.migrations == []
    assert _execute(empty_db_url, "SELECT name FROM aa_notebooks_migrations") == [("0001_example",)]


def test_an_earlier_database_gets_the_missing_column_and_keeps_its_rows(
    empty_db_url: str, registry: list[Migration]
) -> None:
    init_db(empty_db_url)
    execution = uuid.uuid4()
    _execute(
        empty_db_url,
        "DROP TABLE aa_notebooks_migrations",  # as a database of the previous release
        "DROP INDEX ix_tokenusages_execution_id",
        "ALTER TABLE agentexecutions DROP COLUMN flow_id",
        f"INSERT INTO agentexecutions (id, request_id, session_id, status) VALUES "
        f"('{execution}', '{uuid.uuid4()}', '{uuid.uuid4()}', 'success')",
    )
    assert "flow_id" not in _columns(empty_db_url, "agentexecutions")
    registry.append(Migration("0001_flow", lambda c: add_column(c, "agentexecutions", "flow_id")))
    registry.append(
        Migration(
            "0002_usage_index", lambda c: add_index(c, "tokenusages", "ix_tokenusages_execution_id")
        )
    )

    report = init_db(empty_db_url)

    assert report.migrations == ["0001_flow", "0002_usage_index"]
    assert "applied migrations 0001_flow, 0002_usage_index" in str(report)
    assert "flow_id" in _columns(empty_db_url, "agentexecutions")
    assert "ix_tokenusages_execution_id" in _indexes(empty_db_url, "tokenusages")
    rows = _execute(empty_db_url, "SELECT id, flow_id FROM agentexecutions")
    assert [(str(uuid.UUID(str(row[0]))), row[1]) for row in rows] == [(str(execution), None)]
    assert init_db(empty_db_url).migrations == []  # once only


def test_a_migration_already_in_place_does_nothing(
    empty_db_url: str, registry: list[Migration]
) -> None:
    init_db(empty_db_url)
    _execute(empty_db_url, "DELETE FROM aa_notebooks_migrations")
    registry.append(Migration("0001_flow", lambda c: add_column(c, "agentexecutions", "flow_id")))
    assert init_db(empty_db_url).migrations == ["0001_flow"]
    assert "flow_id" in _columns(empty_db_url, "agentexecutions")


def test_an_agentos_database_is_never_migrated(
    empty_db_url: str, registry: list[Migration]
) -> None:
    _execute(empty_db_url, "CREATE TABLE agentexecutions (id VARCHAR PRIMARY KEY)")

    def refuse(connection: Connection) -> None:
        raise AssertionError("an AgentOS database must not be migrated")

    registry.append(Migration("0001_example", refuse))
    assert init_db(empty_db_url).foreign_database
    assert "aa_notebooks_migrations" not in _tables(empty_db_url)


def test_a_name_is_registered_once(registry: list[Migration]) -> None:
    def add_something(connection: Connection) -> None:
        """A migration body (never run here)."""

    migrations.migration(add_something)
    with pytest.raises(ValueError, match="add_something exists already"):
        migrations.migration(add_something)
    assert [step.name for step in registry] == ["add_something"]


def _tables(url: str) -> set[str]:
    engine = create_engine(make_url(url).set(drivername=_driver(url)))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_the_cost_by_model_indexes_reach_an_older_database(empty_db_url: str) -> None:
    init_db(empty_db_url)
    _execute(
        empty_db_url,
        "DROP TABLE aa_notebooks_migrations",
        "DROP INDEX ix_agentexecutions_started_at_id",
        "DROP INDEX ix_tokenusages_execution_id",
        "CREATE INDEX ix_tokenusages_execution_id ON tokenusages (execution_id)",  # 0.1.0's
    )
    report = init_db(empty_db_url)
    assert report.migrations == [
        "cost_by_model_indexes",
        "executions_grid_sort_indexes",
        "otel_nesting_and_cache_tokens",
        "rollup_tables",
        "completed_at_index",
        "running_executions",
        "alert_webhook_delivery",
        "reasoning_tokens",
        "anomaly_alerts",
        "budget_alert_levels",
        "usage_price_provenance",
        "per_user_budgets",
        "latency_rollups",
        "budget_generation",
        "cache_rollups",
        "latency_rollup_sums",
        "rollup_truncate_triggers",
        "rollup_replace_triggers",
        "rollup_writer_version",
        "trigger_search_path",
        "muted_alerts",
    ]
    assert _index_columns(empty_db_url, "tokenusages")["ix_tokenusages_execution_id"] == [
        "execution_id", "model", "cost_usd", "input_tokens", "output_tokens",
    ]  # fmt: skip
    assert _index_columns(empty_db_url, "agentexecutions")["ix_agentexecutions_started_at_id"] == [
        "started_at",
        "id",
        "model_name",
    ]


def test_the_grid_sort_indexes_reach_an_older_database(empty_db_url: str) -> None:
    init_db(empty_db_url)
    grid = ("cost_usd", "execution_time_ms", "total_tokens")
    _execute(
        empty_db_url,
        "DELETE FROM aa_notebooks_migrations WHERE name = 'executions_grid_sort_indexes'",
        *(f"DROP INDEX ix_agentexecutions_{column}_id" for column in grid),
    )
    assert init_db(empty_db_url).migrations == ["executions_grid_sort_indexes"]
    columns = _index_columns(empty_db_url, "agentexecutions")
    for column in grid:
        assert columns[f"ix_agentexecutions_{column}_id"] == [column, "id", "started_at"]
    assert init_db(empty_db_url).migrations == []


def test_the_completed_at_index_reaches_an_older_database(empty_db_url: str) -> None:
    init_db(empty_db_url)
    _execute(
        empty_db_url,
        "DELETE FROM aa_notebooks_migrations WHERE name = 'completed_at_index'",
        "DROP INDEX ix_agentexecutions_completed_at_id",
    )
    assert "ix_agentexecutions_completed_at_id" not in _index_columns(
        empty_db_url, "agentexecutions"
    )
    assert init_db(empty_db_url).migrations == ["completed_at_index"]
    columns = _index_columns(empty_db_url, "agentexecutions")
    assert columns["ix_agentexecutions_completed_at_id"] == ["completed_at", "id"]
    assert init_db(empty_db_url).migrations == []


def test_the_running_executions_table_reaches_an_older_database(empty_db_url: str) -> None:
    init_db(empty_db_url)
    _execute(
        empty_db_url,
        "DELETE FROM aa_notebooks_migrations WHERE name = 'running_executions'",
        "DROP TABLE runningexecutions",
    )
    assert "runningexecutions" not in _tables(empty_db_url)
    assert init_db(empty_db_url).migrations == ["running_executions"]
    assert "runningexecutions" in _tables(empty_db_url)
    assert init_db(empty_db_url).migrations == []


def _index_columns(url: str, table: str) -> dict[str, list[str]]:
    engine = create_engine(make_url(url).set(drivername=_driver(url)))
    try:
        return {i["name"]: i["column_names"] for i in inspect(engine).get_indexes(table)}
    finally:
        engine.dispose()


def test_alerts_fired_before_webhooks_count_as_posted(empty_db_url: str) -> None:
    """An older database's alert events get the webhook flag set, so that configuring a
    webhook does not post them all."""
    init_db(empty_db_url)
    budget, event = uuid.uuid4(), uuid.uuid4()
    _execute(
        empty_db_url,
        "DELETE FROM aa_notebooks_migrations WHERE name = 'alert_webhook_delivery'",
        "ALTER TABLE budgetalertevents DROP COLUMN webhook_notified",
        "INSERT INTO budgetalerts (id, scope, threshold_usd, alert_type) "
        f"VALUES ('{budget.hex}', 'global', 10, 'warning')",
        "INSERT INTO budgetalertevents (id, budget_id, kind, spend_usd, threshold_usd, "
        f"window_start, fired_at, notified) VALUES ('{event.hex}', '{budget.hex}', 'warning', 9, "
        "10, '2024-05-01 00:00:00', '2024-05-31 00:00:00', false)",
    )
    assert init_db(empty_db_url).migrations == ["alert_webhook_delivery"]
    rows = _execute(empty_db_url, "SELECT notified, webhook_notified FROM budgetalertevents")
    assert [(bool(emailed), bool(posted)) for emailed, posted in rows] == [(False, True)]


SLOW_MIGRATION = """
import sys, time
from aa_notebooks.db import migrations
from aa_notebooks.db.migrations import Migration, add_column

def slow_flow(connection):
    time.sleep(0.5)  # both processes read the migration as pending before either records it
    add_column(connection, "agentexecutions", "flow_id")

migrations.MIGRATIONS[:] = [Migration("0001_slow_flow", slow_flow)]
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
"""
INIT_AT_ONCE = (
    SLOW_MIGRATION
    + """
from aa_notebooks.db.setup import init_db
print(",".join(init_db(sys.argv[1]).migrations))
"""
)


def _older_database(url: str) -> None:
    """A database of the release before a migration that adds agentexecutions.flow_id."""
    init_db(url)
    _execute(url, "DROP TABLE aa_notebooks_migrations",
             "ALTER TABLE agentexecutions DROP COLUMN flow_id")  # fmt: skip


def _at_once(script: str, *argv: str) -> list[subprocess.CompletedProcess[str]]:
    """Run `script` in two processes that start its work at the same moment."""
    start = str(time.time() + 3)  # after both interpreters have imported the kit
    children = [
        subprocess.Popen(
            [sys.executable, "-c", script, *argv, start],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    done = []
    for child in children:
        out, err = child.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(child.args, child.returncode, out, err))
    return done


def test_two_processes_migrating_at_once_take_turns(empty_db_url: str) -> None:
    """Two `init-db` (or two agents' first runs) on an older database: one failed with
    "UNIQUE constraint failed: aa_notebooks_migrations.name" or "duplicate key value"; now the
    second waits for the first and finds the migration applied."""
    _older_database(empty_db_url)
    done = _at_once(INIT_AT_ONCE, empty_db_url)
    assert [(child.returncode, child.stderr) for child in done] == [(0, ""), (0, "")]
    assert sorted(child.stdout.strip() for child in done) == ["", "0001_slow_flow"]
    assert _execute(empty_db_url, "SELECT name FROM aa_notebooks_migrations") == [
        ("0001_slow_flow",)
    ]
    assert "flow_id" in _columns(empty_db_url, "agentexecutions")
