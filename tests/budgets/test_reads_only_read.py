"""Reads only read: budget_status, Analytics.budget_status, the dashboard's budgets panel, the
budget report and `budgets status` write nothing (ledger, events, current_spend_usd and the
ledger's trusted mark stay exactly as they were) and email nothing, also with email settings
complete; on a database that refuses writes they all still work, and say loudly that alerts are
due which cannot be emailed. `evaluate_budgets` is the one that writes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from aa_notebooks.analytics import connect
from aa_notebooks.budgets import Status, budget_status, evaluate_budgets
from aa_notebooks.budgets.client import BudgetClient
from aa_notebooks.cli import main
from aa_notebooks.db.engine import dispose_engine
from aa_notebooks.reporting.budget_report import BudgetReport
from aa_notebooks.ui import Dashboard
from aa_notebooks.ui.budgets_panel import BudgetsPanel
from tests.budgets.conftest import (
    NO_EMAIL_SETTINGS_WARNING,
    due_alerts_dataset,
    events,
    read_only,
    snapshot,
)
from tests.notify.smtp_server import smtp_server

EXPECTED = [("alice", Decimal(90), Status.ok), ("org", Decimal(120), Status.exceeded),
            ("small", Decimal(120), Status.exceeded)]  # fmt: skip


def every_read(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, now: datetime
) -> dict[str, object]:
    """Each way budgets are read, on `url` at `now` (the command line: a moment later, which
    changes no number here); what each showed."""
    analytics = connect(url, now=lambda: now)
    shown: dict[str, object] = {
        "library": budget_status(url, now=now),
        "client": BudgetClient.of(analytics).status(),
    }
    panel = BudgetsPanel()
    panel.refresh(analytics)
    shown["panel"] = (panel.warning, [row["Budget"] for row in panel.rows])
    board = Dashboard(analytics, export_dir=tmp_path / "exports")
    board.wait()
    shown["dashboard"] = (board.budgets.warning, [row["Budget"] for row in board.budgets.rows])
    monkeypatch.setenv("AA_DATABASE_URL", url)
    report = BudgetReport.open(title="Budgets", as_of=now.isoformat())
    shown["report"] = report.overview().text
    report.burn_down()
    report.alerts()
    shown["cli"] = main(["--db", url, "budgets", "status"])
    return shown


def test_reads_write_nothing_and_send_nothing(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    due_alerts_dataset(db_url, now)
    before = snapshot(db_url)
    assert len(before["budgetalertevents"]) == 1  # small's, recorded with the execution
    with smtp_server() as (port, inbox):
        for name, value in {"HOST": "127.0.0.1", "PORT": str(port), "SECURITY": "none",
                            "FROM": "budgets@example.com"}.items():  # fmt: skip
            monkeypatch.setenv(f"AA_SMTP_{name}", value)
        monkeypatch.setenv("AA_BUDGET_ALERT_EMAILS", "ops@example.com")
        shown = every_read(db_url, tmp_path, monkeypatch, now)
        assert inbox.messages == []
        assert snapshot(db_url) == before
        evaluation = evaluate_budgets(db_url, now=now)  # the explicit write: everything changes
        assert len(inbox.messages) == 3 and evaluation.ok
    statuses = shown["library"]
    assert [(s.budget.name, s.spend_usd, s.status) for s in statuses] == EXPECTED
    assert statuses.email_warning is None  # email works here: nothing to warn about
    assert shown["client"].to_frame().equals(statuses.to_frame())
    assert shown["panel"] == shown["dashboard"] == ("", ["alice", "org", "small"])
    assert shown["cli"] == 0 and not capsys.readouterr().out.startswith("WARNING")
    after = snapshot(db_url)
    for table in ("budgetspendledger", "budgetalertevents", "budgetalerts", "aa_notebooks_meta"):
        assert after[table] != before[table], table


def test_reads_work_on_a_database_that_refuses_writes(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    due_alerts_dataset(db_url, now)
    before = snapshot(db_url)
    url = read_only(db_url)
    shown = every_read(url, tmp_path, monkeypatch, now)
    assert [(s.budget.name, s.spend_usd, s.status) for s in shown["library"]] == EXPECTED
    assert shown["library"].email_warning == NO_EMAIL_SETTINGS_WARNING
    assert shown["client"].email_warning == NO_EMAIL_SETTINGS_WARNING
    assert shown["panel"] == (NO_EMAIL_SETTINGS_WARNING, ["alice", "org", "small"])
    assert shown["dashboard"] == shown["panel"]
    assert shown["report"].splitlines()[:2] == [
        NO_EMAIL_SETTINGS_WARNING, "3 active budgets: 2 exceeded, 1 ok."
    ]  # fmt: skip
    out = capsys.readouterr().out
    assert shown["cli"] == 0 and out.splitlines()[0] == NO_EMAIL_SETTINGS_WARNING
    dispose_engine(url)
    assert snapshot(db_url) == before
    assert [kind for kind, _, _ in events(db_url)] == ["exceeded"]
