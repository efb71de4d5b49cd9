"""Budgets on a fresh database: a fixed `now`, executions recorded at known times and costs,
a real SMTP server with the alert environment pointing at it, and a database made by the
product document's DDL (GenAI AgentOS)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, text

from aa_notebooks.budgets import record_execution
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.records import AgentExecutionCreate
from aa_notebooks.db.schema import AgentExecution, BudgetAlertEvent
from tests.conftest import drop_postgres_database, new_postgres_database
from tests.notify.smtp_server import Inbox, smtp_server

NOW = datetime(2024, 6, 1, 12, 30, tzinfo=UTC)
ALICE = uuid.UUID("a11ce000-0000-4000-8000-000000000001")
BOB = uuid.UUID("b0b00000-0000-4000-8000-000000000002")
RESEARCHER = uuid.UUID("2e5ea2c4-0000-4000-8000-000000000003")
WRITER = uuid.UUID("a2172e20-0000-4000-8000-000000000004")
DDL = Path(__file__).parents[1] / "db" / "document_ddl.sql"


def record(
    url: str, cost: str | Decimal, started_at: datetime, *, now: datetime | None = None, **fields
) -> None:
    """Record a successful execution costing `cost` that started at `started_at`."""
    execution = AgentExecutionCreate(
        status="success", cost_usd=Decimal(cost), started_at=started_at, **fields
    )
    record_execution(url, execution, now=now or started_at)


def insert_directly(url: str, cost: str, started_at: datetime, **fields) -> dict:
    """Insert an execution the way a writer that skips apply_spend would."""
    row = {"id": uuid.uuid4(), "request_id": uuid.uuid4(), "session_id": uuid.uuid4(),
           "status": "success", "cost_usd": Decimal(cost), "started_at": started_at,
           **fields}  # fmt: skip
    with get_engine(url).begin() as connection:
        connection.execute(AgentExecution.__table__.insert().values(**row))
    return row


def events(url: str) -> list[tuple[str, Decimal, bool]]:
    """The alert events recorded so far: (kind, spend, notified), oldest first."""
    table = BudgetAlertEvent.__table__
    query = select(table.c.kind, table.c.spend_usd, table.c.notified).order_by(
        table.c.fired_at, table.c.kind.desc()
    )
    with get_engine(url).connect() as connection:
        return [tuple(row) for row in connection.execute(query)]


@pytest.fixture
def mail(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    """A real SMTP server on localhost, with AA_SMTP_* and AA_BUDGET_ALERT_EMAILS set for it."""
    with smtp_server() as (port, inbox):
        monkeypatch.setenv("AA_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("AA_SMTP_PORT", str(port))
        monkeypatch.setenv("AA_SMTP_SECURITY", "none")
        monkeypatch.setenv("AA_SMTP_FROM", "budgets@example.com")
        monkeypatch.setenv("AA_BUDGET_ALERT_EMAILS", "ops@example.com, cfo@example.com")
        yield inbox


@pytest.fixture(autouse=True)
def _no_mail_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sends mail unless it asks for the `mail` server."""
    for name in ("HOST", "PORT", "USER", "PASSWORD", "FROM", "SECURITY"):
        monkeypatch.delenv(f"AA_SMTP_{name}", raising=False)
    monkeypatch.delenv("AA_BUDGET_ALERT_EMAILS", raising=False)


@pytest.fixture
def agentos_url() -> Iterator[str]:
    """A PostgreSQL database made by the document's DDL alone, with ALICE in its users."""
    url, name = new_postgres_database()
    with get_engine(url).begin() as connection:
        connection.exec_driver_sql(DDL.read_text())
        connection.execute(text("INSERT INTO users (id) VALUES (:id)"), {"id": ALICE})
    yield url
    drop_postgres_database(url, name)
