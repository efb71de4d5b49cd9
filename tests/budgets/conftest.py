"""Budgets on a fresh database: a fixed `now`, executions recorded at known times and costs,
a real SMTP server with the alert environment pointing at it, a database made by the product
document's DDL (GenAI AgentOS), a dataset with alert emails due, a read-only view of a database
and a snapshot of everything budgets may write."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from aa_notebooks.budgets import create_budget, record_execution, wait_for_deliveries
from aa_notebooks.db.engine import dispose_engine, get_engine
from aa_notebooks.db.records import AgentExecutionCreate
from aa_notebooks.db.schema import (
    AgentExecution,
    BudgetAlert,
    BudgetAlertEvent,
    BudgetSpendLedger,
    KitMetadata,
)
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
    """Record a successful execution costing `cost` that started at `started_at`, and wait for
    the alerts it fired to be delivered (they go from a background thread)."""
    execution = AgentExecutionCreate(
        status="success", cost_usd=Decimal(cost), started_at=started_at, **fields
    )
    record_execution(url, execution, now=now or started_at)
    assert wait_for_deliveries(30)


def insert_directly(url: str, cost: str, started_at: datetime, **fields) -> dict:
    """Insert an execution the way a writer that skips apply_spend would."""
    row = {"id": uuid.uuid4(), "request_id": uuid.uuid4(), "session_id": uuid.uuid4(),
           "status": "success", "cost_usd": Decimal(cost), "started_at": started_at,
           **fields}  # fmt: skip
    with get_engine(url).begin() as connection:
        connection.execute(AgentExecution.__table__.insert().values(**row))
    return row


def stored_spends(url: str) -> dict[uuid.UUID, float]:
    """budgetalerts.current_spend_usd as stored (what `budgets evaluate` wrote; lists show the
    spend now instead), by budget id."""
    table = BudgetAlert.__table__
    with get_engine(url).connect() as connection:
        rows = connection.execute(select(table.c.id, table.c.current_spend_usd))
        return {key: float(spend) for key, spend in rows}


def events(url: str) -> list[tuple[str, Decimal, bool]]:
    """The alert events recorded so far: (kind, spend, notified), oldest first."""
    table = BudgetAlertEvent.__table__
    query = select(table.c.kind, table.c.spend_usd, table.c.notified).order_by(
        table.c.fired_at, table.c.kind.desc()
    )
    with get_engine(url).connect() as connection:
        return [tuple(row) for row in connection.execute(query)]


def due_alerts_dataset(url: str, now: datetime) -> None:
    """Three budgets and three alert emails due at `now`, none sent, the ledger never rebuilt:

    - "small" (global, $10, warning at 100%) exists when ALICE's $90 execution is recorded an
      hour before `now`: that records its "exceeded" event ($90 of $10), not emailed (no email
      settings yet);
    - $30 more is inserted two hours before `now` by a writer that skips the ledger;
    - "org" (global, $100, hard stop, warning at 80%) is created over both its levels ($120):
      an evaluation at `now` records its warning and exceeded events;
    - "alice" (user ALICE, $200) holds $90, 45%: ok.
    """
    create_budget(url, name="small", threshold_usd=10, alert_type="warning",
                  alert_at_percentage=100)  # fmt: skip
    record(url, "90", now - timedelta(hours=1), user_id=ALICE)
    insert_directly(url, "30", now - timedelta(hours=2))
    create_budget(url, name="org", threshold_usd=100, alert_type="hard_stop")
    create_budget(url, name="alice", scope="user", user_id=ALICE, threshold_usd=200,
                  alert_type="warning")  # fmt: skip


NO_EMAIL_SETTINGS_WARNING = (
    "WARNING: 3 budget alerts are due but cannot be emailed: AA_SMTP_HOST, AA_SMTP_FROM and "
    "AA_BUDGET_ALERT_EMAILS are not set. Complete the email settings where `aa-notebooks budgets "
    "evaluate` runs; until then no alert email is sent."
)


def snapshot(url: str) -> dict[str, list[tuple[str, ...]]]:
    """Every row budgets may write (ledger, events, budgets with current_spend_usd, the ledger's
    trusted mark), as sorted text, to compare before and after a read."""
    tables = [BudgetSpendLedger, BudgetAlertEvent, BudgetAlert, KitMetadata]
    found = {}
    with get_engine(url).connect() as connection:
        for model in tables:
            rows = connection.execute(select(model.__table__))
            found[model.__tablename__] = sorted(tuple(map(str, row)) for row in rows)
    return found


def read_only(url: str) -> str:
    """A URL for the same database on which every write fails: SQLite opened with mode=ro,
    PostgreSQL with default_transaction_read_only set on the database."""
    dispose_engine(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"sqlite:///file:{parsed.database}?mode=ro&uri=true"
    with get_engine(url).connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
            f'ALTER DATABASE "{parsed.database}" SET default_transaction_read_only = on'
        )
    dispose_engine(url)
    return url


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
    """No test sends mail (or posts to a webhook) unless it asks for the `mail` server."""
    for name in ("HOST", "PORT", "USER", "PASSWORD", "FROM", "SECURITY"):
        monkeypatch.delenv(f"AA_SMTP_{name}", raising=False)
    monkeypatch.delenv("AA_BUDGET_ALERT_EMAILS", raising=False)
    monkeypatch.delenv("AA_ALERT_WEBHOOKS", raising=False)


@pytest.fixture
def agentos_url() -> Iterator[str]:
    """A PostgreSQL database made by the data contract's DDL alone, with ALICE in its users."""
    url, name = new_postgres_database()
    with get_engine(url).begin() as connection:
        connection.exec_driver_sql(DDL.read_text())
        connection.execute(text("INSERT INTO users (id) VALUES (:id)"), {"id": ALICE})
    yield url
    drop_postgres_database(url, name)
