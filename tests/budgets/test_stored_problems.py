"""Budgets another program stored with values a budget cannot have (legal by the DDL: a zero
threshold, a zero-day window, a 0% alert level) are unavailable, with the fix, and the other
budgets, the status list, the evaluation and the budget report still work."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aa_notebooks.budgets import Status, budget_status, evaluate_budgets
from aa_notebooks.db.engine import get_engine
from aa_notebooks.reporting import run_report
from tests.cli.test_database_commands import document_sqlite

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
GOOD = uuid.UUID("10000000-0000-4000-8000-000000000000")
ZERO_THRESHOLD = uuid.UUID("20000000-0000-4000-8000-000000000000")
ZERO_DAYS = uuid.UUID("30000000-0000-4000-8000-000000000000")
ZERO_PERCENT = uuid.UUID("40000000-0000-4000-8000-000000000000")
AGENT_SCOPE = uuid.UUID("50000000-0000-4000-8000-000000000000")
NO_OWNER = uuid.UUID("60000000-0000-4000-8000-000000000000")  # a user budget, no user_id


@pytest.fixture
def stored_url(tmp_path: Path) -> str:
    """A DDL-made SQLite file: $1.50 spent a day ago, and six budgets written by plain SQL
    (id, scope, threshold, days, type, percent, active, email, spend), none with a user_id."""
    url = document_sqlite(tmp_path / "agentos.db")
    started = (NOW - timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    with sqlite3.connect(tmp_path / "agentos.db") as connection:
        connection.execute(
            "INSERT INTO agentexecutions (id, request_id, session_id, agent_name, model_name, "
            "status, cost_usd, started_at) VALUES (?, ?, ?, 'a', 'gpt-4o', 'success', 1.5, ?)",
            (uuid.uuid4().hex, uuid.uuid4().hex, uuid.uuid4().hex, started),
        )
        budgets = [
            (GOOD, "global", 10, 30, 80),
            (ZERO_THRESHOLD, "global", 0, 30, 80),
            (ZERO_DAYS, "global", 10, 0, 80),
            (ZERO_PERCENT, "global", 10, 30, 0),
            (AGENT_SCOPE, "agent", 10, 30, 80),
            (NO_OWNER, "user", 10, 30, 80),
        ]
        connection.executemany(
            "INSERT INTO budgetalerts VALUES (?, NULL, ?, ?, ?, 'warning', ?, 1, 1, 0)",
            [
                (str(id_), scope, threshold, days, pct)
                for id_, scope, threshold, days, pct in budgets
            ],
        )
    return url


def test_unusable_budgets_are_unavailable_with_their_fix(stored_url: str) -> None:
    statuses = {status.budget.id: status for status in budget_status(stored_url, now=NOW)}
    assert statuses[GOOD].status is Status.ok
    assert statuses[GOOD].spend_usd == pytest.approx(1.5)
    expected = {
        ZERO_THRESHOLD: "its threshold_usd is 0.00, not above 0; set it with "
        f"`aa-notebooks budgets update {ZERO_THRESHOLD} --threshold-usd N`",
        ZERO_DAYS: "its period_days is 0, under 1; set it with "
        f"`aa-notebooks budgets update {ZERO_DAYS} --period-days N`",
        ZERO_PERCENT: "its alert_at_percentage is 0, outside 1-100; set it with "
        f"`aa-notebooks budgets update {ZERO_PERCENT} --alert-at-percentage N`",
        NO_OWNER: "it is a user budget without a user_id, so it counts no one; set it with "
        f"`aa-notebooks budgets update {NO_OWNER} --budget-user ID`",  # it read "ok, $0"
    }
    for budget_id, reason in expected.items():
        assert (statuses[budget_id].status, statuses[budget_id].reason) == (
            Status.unavailable,
            reason,
        )
    assert statuses[AGENT_SCOPE].status is Status.unavailable
    evaluated = {s.budget.id: s.status for s in evaluate_budgets(stored_url, now=NOW).statuses}
    assert evaluated[GOOD] is Status.ok
    assert {evaluated[i] for i in expected} == {Status.unavailable}


def test_the_budget_report_is_made_beside_them(stored_url: str, tmp_path: Path) -> None:
    report = run_report(
        "budget",
        database_url=stored_url,
        as_of=NOW.isoformat(),
        output_dir=tmp_path,
        progress=False,
    )
    html = report.html_path.read_text()
    assert "its threshold_usd is 0.00, not above 0" in html
    assert "its alert_at_percentage is 0, outside 1-100" in html


def test_an_unusable_budget_neither_alerts_nor_refuses(db_url: str) -> None:
    """Shown as unavailable, so not enforced either: a $0 hard stop written by another program
    refused every run, and a 0% warning fired at any spend."""
    from sqlalchemy import text

    from aa_notebooks.budgets import check_budget
    from tests.budgets.conftest import NOW as KIT_NOW
    from tests.budgets.conftest import events, record

    with get_engine(db_url).begin() as connection:
        for threshold, kind, percent in ((0, "hard_stop", 80), (10, "warning", 0)):
            connection.execute(
                text(
                    "INSERT INTO budgetalerts (id, scope, threshold_usd, period_days, alert_type, "
                    "alert_at_percentage, is_active, email_notification, current_spend_usd) "
                    "VALUES (:id, 'global', :threshold, 30, :kind, :percent, true, false, 0)"
                ),
                {"id": uuid.uuid4().hex, "threshold": threshold, "kind": kind, "percent": percent},
            )
    check_budget(db_url, now=KIT_NOW)  # no BudgetExceededError
    record(db_url, "0.50", KIT_NOW - timedelta(hours=1), now=KIT_NOW)
    check_budget(db_url, now=KIT_NOW)
    assert events(db_url) == []
