"""Several alert levels per budget (50/80/100%), each firing once per rolling window, checked
against hand-worked spends on both databases, with the emails on a real SMTP server."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from aa_notebooks.budgets import budget_status, create_budget, update_budget
from aa_notebooks.cli import main
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import BudgetAlertEvent
from aa_notebooks.errors import InvalidInputError, SchemaError
from tests.budgets.conftest import NOW, record
from tests.notify.smtp_server import Inbox

EVENTS = BudgetAlertEvent.__table__


def fired(url: str) -> list[tuple[str, int, Decimal]]:
    """(kind, level, window spend then) of every event, oldest first."""
    query = select(EVENTS.c.kind, EVENTS.c.level_pct, EVENTS.c.spend_usd).order_by(
        EVENTS.c.fired_at, EVENTS.c.level_pct
    )
    with get_engine(url).connect() as connection:
        return [(kind, level, Decimal(spend)) for kind, level, spend in connection.execute(query)]


def test_each_level_fires_once_as_the_spend_climbs(db_url: str, mail: Inbox) -> None:
    """$10 a day, levels 50 and 80 (alert_at_percentage) and 100: $1 a minute reaches $5, $8
    and $10 at the 5th, 8th and 10th run; the 11th and 12th add no event."""
    create_budget(db_url, name="daily", threshold_usd=10, period_days=1, alert_type="warning",
                  alert_levels=[50])  # fmt: skip
    for minute in range(12):
        record(db_url, "1", NOW + timedelta(minutes=minute))
    assert fired(db_url) == [
        ("warning", 50, Decimal(5)), ("warning", 80, Decimal(8)), ("exceeded", 100, Decimal(10)),
    ]  # fmt: skip
    assert [m["Subject"] for m in mail.messages] == [
        "Budget 'daily' reached 50%: $5.00 of $10.00",
        "Budget 'daily' reached 80%: $8.00 of $10.00",
        "Budget 'daily' exceeded its threshold: $10.00 of $10.00",
    ]


def test_one_jump_past_several_levels_fires_each(db_url: str) -> None:
    create_budget(db_url, threshold_usd=100, alert_type="warning", alert_levels="25,50,75")
    record(db_url, "60", NOW)  # 60%: 25 and 50 at once
    assert fired(db_url) == [("warning", 25, Decimal(60)), ("warning", 50, Decimal(60))]
    record(db_url, "30", NOW + timedelta(minutes=1))  # 90%: 75 and 80
    assert [level for _, level, _ in fired(db_url)] == [25, 50, 75, 80]


def test_a_dip_and_return_within_the_window_fires_nothing_new(db_url: str) -> None:
    """$10 a day, levels 50, 90, 100. $4 at NOW and $1 at +12h reach $5: 50% fires. At +1d+1h
    the $4 run has left the window ($2 remain) and $3 more returns to $5, but the 50% event is
    within the day: nothing. At +1d+13h the event has left the window and $2 more makes $6
    ($1 of +23h, $3, $2): it fires again."""
    create_budget(db_url, threshold_usd=10, period_days=1, alert_type="warning",
                  alert_at_percentage=90, alert_levels=[50])  # fmt: skip
    record(db_url, "4", NOW)
    record(db_url, "1", NOW + timedelta(hours=12))
    record(db_url, "1", NOW + timedelta(hours=23))
    record(db_url, "3", NOW + timedelta(days=1, hours=1))
    assert fired(db_url) == [("warning", 50, Decimal(5))]
    record(db_url, "2", NOW + timedelta(days=1, hours=13))
    assert fired(db_url) == [("warning", 50, Decimal(5)), ("warning", 50, Decimal(6))]


def test_the_lowest_level_starts_the_warning_status(db_url: str) -> None:
    create_budget(db_url, name="org", threshold_usd=100, alert_type="hard_stop",
                  alert_levels=[50, 90])  # fmt: skip
    record(db_url, "55", NOW - timedelta(hours=1))
    [status] = budget_status(db_url, now=NOW)
    assert (status.status.value, status.as_row()["alert_levels"]) == ("warning", [50, 80, 90, 100])
    assert status.budget.levels == (50, 80, 90, 100)


def test_levels_are_validated_and_can_be_changed(db_url: str) -> None:
    for bad in ([0], [101], "50,x"):
        with pytest.raises(InvalidInputError, match="alert_levels"):
            create_budget(db_url, threshold_usd=10, alert_type="warning", alert_levels=bad)
    budget = create_budget(db_url, threshold_usd=10, alert_type="warning",
                           alert_levels=[90, 50, 50])  # fmt: skip
    assert budget.alert_levels == (50, 90)
    assert update_budget(db_url, budget.id, alert_levels=None).levels == (80, 100)
    assert update_budget(db_url, budget.id, alert_levels="30").levels == (30, 80, 100)


def test_the_command_line_sets_and_shows_levels(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--db", db_url, "budgets", "create", "--threshold-usd", "20",
                 "--alert-type", "warning", "--levels", "50,90", "--format", "json"])  # fmt: skip
    created = json.loads(capsys.readouterr().out)
    assert (code, created["alert_levels"]) == (0, [50, 90])
    assert main(["--db", db_url, "budgets", "status", "--format", "json"]) == 0
    [status] = json.loads(capsys.readouterr().out)["statuses"]
    assert (status["budget"]["alert_levels"], status["status"]) == ([50, 90], "ok")


def test_an_agentos_database_refuses_levels_in_one_line(agentos_url: str) -> None:
    with pytest.raises(SchemaError, match=r"no budgetalerts\.alert_levels column"):
        create_budget(agentos_url, threshold_usd=10, alert_type="warning", alert_levels=[50])
