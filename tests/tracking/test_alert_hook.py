"""Recording hands the alerts it made due to an explicit `on_alerts` hook (the default emails
them): the tracker's writer after the batch that crossed a threshold, `record_execution` after
its commit; never when nothing crossed. The events stay recorded and unsent for
`budgets evaluate`."""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import URL, make_url

from aa_notebooks.budgets import create_budget, record_execution, wait_for_deliveries
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.records import AgentExecutionCreate
from aa_notebooks.db.schema import AgentExecution, BudgetAlertEvent, table_of
from aa_notebooks.tracking import Tracker

EVENTS = table_of(BudgetAlertEvent)
EXECUTIONS = table_of(AgentExecution)


def events(url: str) -> list[tuple[str, bool]]:
    """(kind, notified) of every alert event, in firing order."""
    query = select(EVENTS.c.kind, EVENTS.c.notified).order_by(EVENTS.c.fired_at, EVENTS.c.kind)
    with get_engine(url).connect() as connection:
        return [(str(kind), bool(notified)) for kind, notified in connection.execute(query)]


def same_database(told: URL, db_url: str) -> bool:
    """The hook was told the test's database (the driver name may have been filled in)."""
    expected = make_url(db_url)
    return (told.get_backend_name(), told.host, told.database) == (
        expected.get_backend_name(),
        expected.host,
        expected.database,
    )


def test_the_writer_tells_the_hook_after_the_batch_that_crossed(
    db_url: str, spool_dir: Path
) -> None:
    """$0.006 a run (gpt-4o, 1,200 + 300 tokens) against $0.01 warning at 100%: the first run
    crosses nothing, the second ($0.012) fires one exceeded event and one call."""
    create_budget(db_url, name="cap", threshold_usd=Decimal("0.01"), alert_type="warning",
                  alert_at_percentage=100, period_days=1)  # fmt: skip
    told: list[URL] = []
    tracker = Tracker(db_url, spool_dir=spool_dir, on_alerts=told.append)
    try:
        with tracker.execution(agent_name="researcher") as run:
            run.tokens("main_agent", "gpt-4o", 1200, 300)
        tracker.flush()
        assert told == []
        with tracker.execution(agent_name="researcher") as run:
            run.tokens("main_agent", "gpt-4o", 1200, 300)
        tracker.flush()
    finally:
        tracker.close()
    assert len(told) == 1 and same_database(told[0], db_url)
    assert events(db_url) == [("exceeded", False)]  # recorded, not emailed by this hook


def test_record_execution_tells_the_hook_after_its_commit(db_url: str) -> None:
    """$1 threshold, warning at 50%: $0.40 crosses nothing, +$0.20 crosses 50% (warning),
    +$0.50 crosses 100% (exceeded): two calls, two events."""
    create_budget(db_url, name="cap", threshold_usd=Decimal("1"), alert_type="warning",
                  alert_at_percentage=50, period_days=1)  # fmt: skip
    told: list[URL] = []
    now = datetime.now(UTC)
    for cost in ("0.40", "0.20", "0.50"):
        execution = AgentExecutionCreate(status="success", cost_usd=Decimal(cost), started_at=now)
        record_execution(db_url, execution, now=now, on_alerts=told.append)
        if cost == "0.40":
            assert told == []
    assert len(told) == 2 and all(same_database(url, db_url) for url in told)
    assert sorted(events(db_url)) == [("exceeded", False), ("warning", False)]


def test_a_slow_hook_is_told_after_its_runs_left_the_pending_spend(
    db_url: str, spool_dir: Path
) -> None:
    """A hard stop of $10 with a warning at 80%: a first run of $8 (gpt-4o, 3.2M input tokens at
    $2.50 a million) fires the warning, and the hook then hangs (a silent mail server). The run
    left the pending spend before the hook was told, so the next run of $1 is checked against
    $8, not $8 stored plus $8 still pending (refused before the fix)."""
    create_budget(db_url, name="stop", threshold_usd=Decimal("10"), alert_type="hard_stop",
                  alert_at_percentage=80, period_days=1)  # fmt: skip
    release = threading.Event()
    told: list[URL] = []

    def hanging(url: URL) -> None:
        told.append(url)
        release.wait(30)

    tracker = Tracker(db_url, spool_dir=spool_dir, on_alerts=hanging)
    try:
        with tracker.execution(agent_name="researcher") as run:
            run.tokens("main_agent", "gpt-4o", 3_200_000, 0)
        deadline = time.monotonic() + 10
        while not told and time.monotonic() < deadline:  # committed, and the hook hangs
            time.sleep(0.01)
        assert len(told) == 1
        with tracker.execution(agent_name="researcher") as run:
            run.tokens("main_agent", "gpt-4o", 400_000, 0)
        release.set()  # the writer goes on once the hook returns
        assert tracker.flush(timeout=10)
        assert stored_costs(db_url) == [Decimal("8.000000"), Decimal("1.000000")]
    finally:
        release.set()
        tracker.close()
    assert events(db_url) == [("warning", False)]


def test_the_default_delivery_leaves_the_writer_free_while_the_mail_server_is_silent(
    db_url: str, spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mail server that accepts the connection and never answers (60 s timeout): the tracker's
    default hook emails from a background thread, so the writer commits the next runs while the
    email still waits."""
    create_budget(db_url, name="cap", threshold_usd=Decimal("0.01"), alert_type="warning",
                  alert_at_percentage=100, period_days=1)  # fmt: skip
    with socket.create_server(("127.0.0.1", 0)) as silent:  # listens, never accepts or answers
        settings = {"HOST": "127.0.0.1", "PORT": str(silent.getsockname()[1]), "TIMEOUT": "60",
                    "SECURITY": "none", "FROM": "kit@example.com"}  # fmt: skip
        for name, value in settings.items():
            monkeypatch.setenv(f"AA_SMTP_{name}", value)
        monkeypatch.setenv("AA_BUDGET_ALERT_EMAILS", "ops@example.com")
        tracker = Tracker(db_url, spool_dir=spool_dir)
        try:
            with tracker.execution(agent_name="researcher") as run:
                run.tokens("main_agent", "gpt-4o", 4_000, 0)  # $0.01: the warning fires
            assert tracker.flush(timeout=30)
            with tracker.execution(agent_name="researcher") as run:
                run.tokens("main_agent", "gpt-4o", 400, 0)
            assert tracker.flush(timeout=30)
            # Committed while the email still waits: the old writer waited on the server itself.
            assert not wait_for_deliveries(timeout=0)
            assert stored_costs(db_url) == [Decimal("0.010000"), Decimal("0.001000")]
        finally:
            silent.close()  # the waiting email is cut off at once
            tracker.close()
            assert wait_for_deliveries(timeout=30)
    assert events(db_url) == [("exceeded", False)]  # not sent: kept for `budgets evaluate`


def stored_costs(url: str) -> list[Decimal]:
    """The cost of every stored execution, oldest first."""
    query = select(EXECUTIONS.c.cost_usd).order_by(EXECUTIONS.c.started_at)
    with get_engine(url).connect() as connection:
        return list(connection.execute(query).scalars())
