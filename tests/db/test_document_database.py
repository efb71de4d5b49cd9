"""A PostgreSQL database made by the data contract's own DDL: the kit reads and writes it
through its repositories, init_db leaves it alone, check_db explains what it lacks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from aa_notebooks.db.engine import async_session_factory, get_engine, session_factory
from aa_notebooks.db.inspection import check_db
from aa_notebooks.db.records import AgentExecutionCreate, ExecutionTraceCreate, TokenUsageCreate
from aa_notebooks.db.repositories import (
    AgentExecutionRepository,
    ExecutionTraceRepository,
    TokenUsageRepository,
)
from aa_notebooks.db.setup import init_db
from tests.conftest import drop_postgres_database, new_postgres_database

pytestmark = pytest.mark.postgres
DDL = Path(__file__).with_name("document_ddl.sql")


@pytest.fixture
def document_db() -> Iterator[str]:
    url, name = new_postgres_database()
    with get_engine(url).begin() as conn:
        conn.exec_driver_sql(DDL.read_text())
    yield url
    drop_postgres_database(url, name)


def _columns(url: str) -> dict[str, list[tuple[str, str, bool, str | None]]]:
    inspector = inspect(get_engine(url))
    return {
        table: [(c["name"], str(c["type"]), c["nullable"], c["default"]) for c in columns]
        for table in inspector.get_table_names()
        for columns in [inspector.get_columns(table)]
    }


def test_init_db_leaves_it_unchanged(document_db: str) -> None:
    before = _columns(document_db)
    report = init_db(document_db)
    assert report.foreign_database
    assert report.created_tables == []
    assert "left unchanged" in str(report)
    inspector = inspect(get_engine(document_db))
    assert sorted(inspector.get_table_names()) == [
        "agentexecutions", "budgetalerts", "executiontraces", "tokenusages", "users",
    ]  # fmt: skip
    assert _columns(document_db) == before


def test_check_db_names_missing_parts_and_features(document_db: str) -> None:
    report = check_db(document_db)
    assert report.ok and not report.complete  # the data contract's schema is whole; additions lack
    assert sorted(report.missing_tables) == [
        "anomalyalertssent", "apitokens", "budgetalertevents", "budgetgeneration",
        "budgetspendledger",
        "otelstagedspans",
        "otelstagedtraces", "rollup_cache_day", "rollup_cache_hour", "rollup_dirty_hours",
        "rollup_executions_day",
        "rollup_executions_hour", "rollup_latency_day", "rollup_latency_hour",
        "rollup_totals_day", "rollup_totals_hour", "rollup_usage_day",
        "rollup_usage_hour", "rollup_writing",
        "runningexecutions",
    ]  # fmt: skip
    assert report.missing_columns == {
        "users": ["username", "email"],
        "agentexecutions": ["flow_id"],
        "executiontraces": ["parent_step", "depth"],
        "tokenusages": [
            "cache_read_tokens",
            "cache_write_tokens",
            "reasoning_tokens",
            "price_source",
            "price_date",
        ],
        "budgetalerts": ["name", "target", "alert_levels", "per_user"],
    }
    text_report = str(report)
    assert "missing column agentexecutions.flow_id" in text_report
    assert "disabled: flow-scoped budgets" in text_report
    assert "disabled: agent- and flow-scoped budgets" in text_report
    assert text_report.count("disabled: rollups for big windows") == 1
    assert "disabled: runs in flight (runs are seen once they end)" in text_report
    assert "aa_test:***@" in text_report and ":aa_test@" not in text_report
    assert report.has("agentexecutions") and not report.has("agentexecutions", "flow_id")


def test_repositories_write_and_read_it(document_db: str) -> None:
    user = uuid.uuid4()
    with get_engine(document_db).begin() as conn:
        conn.execute(text("INSERT INTO users (id) VALUES (:id)"), {"id": user})
    with session_factory(document_db)() as session:
        execution = AgentExecutionRepository(session).create(
            AgentExecutionCreate(
                status="failure", agent_name="planner", model_name="gpt-4o", input_tokens=10,
                output_tokens=5, cost_usd=Decimal("0.000075"), error_type="ToolError",
                query_preview="it's <b>bold</b>",
            ),
            user_id=user,
        )  # fmt: skip
        ExecutionTraceRepository(session).create(
            ExecutionTraceCreate(execution_id=execution.id, step_number=1, step_type="thought")
        )
        TokenUsageRepository(session).create(
            TokenUsageCreate(
                execution_id=execution.id, component="main_agent", model="gpt-4o",
                input_tokens=10, output_tokens=5, cost_usd=Decimal("0.000075"),
            )
        )  # fmt: skip
    with get_engine(document_db).connect() as conn:
        row = conn.execute(
            text(
                "SELECT user_id, status::text, total_tokens, cost_usd, query_preview, "
                "started_at IS NOT NULL FROM agentexecutions"
            )
        ).one()
        steps = conn.execute(text("SELECT step_type::text, duration_ms FROM executiontraces"))
        assert steps.all() == [("thought", 0)]
    assert row == (user, "failure", 15, Decimal("0.000075"), "it's <b>bold</b>", True)


async def test_async_repository_on_it(document_db: str) -> None:
    async with async_session_factory(document_db)() as session:
        repo = AgentExecutionRepository(session)
        created = await repo.create(AgentExecutionCreate(status="timeout", agent_name="slow"))
        fetched = await repo.get(created.id)
        listed = await repo.list(agent_name="slow")
    assert fetched.status.value == "timeout"
    assert [e.id for e in listed] == [created.id]
