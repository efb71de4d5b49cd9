"""A schedule whose job is budgets-evaluate, run by the scheduler with its real runner: at its
cron time the budgets' spend is written back and the alerts due reach a real SMTP server on
localhost, with no notebook open; without email settings the run fails, saying why."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from aa_notebooks.budgets import list_budgets
from aa_notebooks.reporting.scheduler import Scheduler
from aa_notebooks.reporting.schedules import Schedule, ScheduleStore
from tests.budgets.conftest import NO_EMAIL_SETTINGS_WARNING, due_alerts_dataset, events
from tests.notify.smtp_server import smtp_server

FIRST_SIGHT = datetime(2026, 12, 1, 7, 59, tzinfo=UTC)
AT_FIRE_TIME = datetime(2026, 12, 1, 8, 0, 5, tzinfo=UTC)


def evaluation_due(tmp_path, url: str, monkeypatch: pytest.MonkeyPatch) -> Scheduler:
    """A scheduler with one budgets-evaluate schedule every 15 minutes, seen at 07:59 and now at
    08:00:05 (the evaluation itself runs at the real time, as the dataset's)."""
    monkeypatch.setenv("AA_DATABASE_URL", url)
    monkeypatch.delenv("AA_BUDGET_ALERT_EMAILS", raising=False)
    due_alerts_dataset(url, datetime.now(UTC))
    store = ScheduleStore(tmp_path / "schedules.json")
    store.add(Schedule("alerts", "*/15 * * * *", job="budgets-evaluate"))
    clock = {"now": FIRST_SIGHT}
    scheduler = Scheduler(store, clock=lambda: clock["now"])
    assert scheduler.run_due().outcomes == ()
    clock["now"] = AT_FIRE_TIME
    return scheduler


def test_a_schedule_evaluates_budgets_and_emails_the_alerts(
    db_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler = evaluation_due(tmp_path, db_url, monkeypatch)
    with smtp_server() as (port, inbox):
        for name, value in {"HOST": "127.0.0.1", "PORT": str(port), "SECURITY": "none",
                            "FROM": "budgets@example.com"}.items():  # fmt: skip
            monkeypatch.setenv(f"AA_SMTP_{name}", value)
        monkeypatch.setenv("AA_BUDGET_ALERT_EMAILS", "ops@example.com")
        with caplog.at_level(logging.INFO, logger="aa_notebooks.reporting.scheduler"):
            result = scheduler.run_due()
    assert [(o.name, o.due, o.error) for o in result.outcomes] == [
        ("alerts", datetime(2026, 12, 1, 8, tzinfo=UTC), None)
    ]  # fmt: skip
    assert result.ok and "schedule alerts: budgets evaluation done" in caplog.messages
    assert sorted(m["Subject"] for m in inbox.messages) == [
        "Budget 'org' exceeded its threshold: $120.00 of $100.00",
        "Budget 'org' reached 80%: $120.00 of $100.00",
        "Budget 'small' exceeded its threshold: $90.00 of $10.00",
    ]
    assert [notified for _, _, notified in events(db_url)] == [True, True, True]
    budgets = list_budgets(db_url)
    spends = dict(zip(budgets["name"], budgets["current_spend_usd"], strict=True))
    assert spends == {"alice": 90.0, "org": 120.0, "small": 120.0}


def test_without_email_settings_the_scheduled_evaluation_fails_loudly(
    db_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler = evaluation_due(tmp_path, db_url, monkeypatch)
    caplog.clear()  # the dataset's own warning, logged when small's alert was recorded
    with caplog.at_level(logging.ERROR, logger="aa_notebooks.reporting.scheduler"):
        result = scheduler.run_due()
    assert [(o.name, o.error) for o in result.outcomes] == [("alerts", NO_EMAIL_SETTINGS_WARNING)]
    assert not result.ok
    assert caplog.messages == [f"schedule alerts failed: {NO_EMAIL_SETTINGS_WARNING}"]
    assert [(kind, notified) for kind, _, notified in events(db_url)] == [
        ("exceeded", False), ("warning", False), ("exceeded", False)
    ]  # fmt: skip
