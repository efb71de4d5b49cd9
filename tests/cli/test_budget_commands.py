"""`aa-notebooks budgets ...` through the entry point: exact output of list (table, JSON), create
and update (a readable record, JSON), status (read only, with the loud warning when alerts are
due that cannot be emailed) and evaluate (writes, emails a real SMTP server on localhost, says
what it did, exits 1 when an alert due could not be emailed)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from aa_notebooks.budgets import create_budget, list_budgets
from aa_notebooks.cli import main
from aa_notebooks.reporting.budget_report import NO_BUDGETS
from aa_notebooks.ui.budgets_panel import EMPTY
from tests.budgets.conftest import (
    NO_EMAIL_SETTINGS_WARNING,
    due_alerts_dataset,
    events,
    snapshot,
)
from tests.notify.smtp_server import Inbox, smtp_server

ORG = "00000000-0000-4000-8000-00000000000a"
RESEARCHER = "00000000-0000-4000-8000-00000000000b"


@pytest.fixture(autouse=True)
def _no_alert_recipients(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AA_BUDGET_ALERT_EMAILS", raising=False)


@pytest.fixture
def mail(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    """A real SMTP server on localhost, with AA_SMTP_* and AA_BUDGET_ALERT_EMAILS set for it."""
    with smtp_server() as (port, inbox):
        for name, value in {"HOST": "127.0.0.1", "PORT": str(port), "SECURITY": "none",
                            "FROM": "budgets@example.com"}.items():  # fmt: skip
            monkeypatch.setenv(f"AA_SMTP_{name}", value)
        monkeypatch.setenv("AA_BUDGET_ALERT_EMAILS", "ops@example.com, cfo@example.com")
        yield inbox


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def two_budgets(url: str) -> None:
    create_budget(url, id=ORG, name="org", threshold_usd=100, alert_type="warning")
    create_budget(url, id=RESEARCHER, name="researcher", scope="agent", target="researcher",
                  threshold_usd="12.5", alert_type="hard_stop", period_days=7)  # fmt: skip


def test_list_as_json(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Used to crash: UUID objects in DataFrame.to_json (OverflowError)."""
    two_budgets(db_url)
    code, out, err = run(capsys, "--db", db_url, "budgets", "list", "--format", "json")
    assert (code, err) == (0, "")
    common = {"user_id": None, "alert_at_percentage": 80, "is_active": True,
              "email_notification": True, "current_spend_usd": 0.0,
              "alert_levels": [], "per_user": False}  # fmt: skip
    assert json.loads(out) == [
        {"id": ORG, "name": "org", "scope": "global", "target": None, "threshold_usd": 100.0,
         "period_days": 30, "alert_type": "warning", **common},
        {"id": RESEARCHER, "name": "researcher", "scope": "agent", "target": "researcher",
         "threshold_usd": 12.5, "period_days": 7, "alert_type": "hard_stop", **common},
    ]  # fmt: skip


def test_list_table_leaves_a_missing_target_blank(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    two_budgets(db_url)
    code, out, _ = run(capsys, "--db", db_url, "budgets", "list")
    assert code == 0
    assert out.splitlines() == [
        "                                  id       name  scope     target user_id threshold_usd"
        "  period_days alert_type  alert_at_percentage  is_active  email_notification"
        " current_spend_usd alert_levels  per_user",
        "00000000-0000-4000-8000-00000000000a        org global                          $100.00"
        "           30    warning                   80       True                True"
        "             $0.00           []     False",
        "00000000-0000-4000-8000-00000000000b researcher  agent researcher                $12.50"
        "            7  hard_stop                   80       True                True"
        "             $0.00           []     False",
    ]
    assert "NaN" not in out and "None" not in out


def record_lines(budget_id: str, **changed: str) -> list[str]:
    """A budget's readable record as create and update print it."""
    values = {"id": budget_id, "name": "org", "scope": "global", "target": "", "user_id": "",
              "threshold_usd": "$100.00", "period_days": "30", "alert_type": "warning",
              "alert_at_percentage": "80", "is_active": "true", "email_notification": "true",
              "current_spend_usd": "$0.00", "alert_levels": "", "per_user": "false",
              **changed}  # fmt: skip
    return [f"{name:<19}  {value}".rstrip() for name, value in values.items()]


def test_create_and_update_print_a_readable_record(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Used to print `Budget(id=UUID('...'), ...)`."""
    code, out, err = run(capsys, "--db", db_url, "budgets", "create", "--name", "org",
                         "--threshold-usd", "100", "--alert-type", "warning")  # fmt: skip
    assert (code, err) == (0, "")
    budget_id = out.splitlines()[0].split()[1]
    uuid.UUID(budget_id)
    assert out.splitlines() == record_lines(budget_id)
    assert "Budget(" not in out and "UUID(" not in out
    code, out, _ = run(capsys, "--db", db_url, "budgets", "update", budget_id,
                       "--threshold-usd", "150.5", "--active", "false")  # fmt: skip
    assert code == 0
    assert out.splitlines() == record_lines(budget_id, threshold_usd="$150.50", is_active="false")


def test_create_and_update_as_json(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--db", db_url, "budgets", "create", "--name", "bot",
                       "--scope", "agent", "--target", "researcher", "--threshold-usd", "5",
                       "--alert-type", "hard_stop", "--format", "json")  # fmt: skip
    created = json.loads(out)
    assert code == 0
    assert created == {
        "id": created["id"], "name": "bot", "scope": "agent", "target": "researcher",
        "user_id": None, "threshold_usd": "5.00", "period_days": 30, "alert_type": "hard_stop",
        "alert_at_percentage": 80, "is_active": True, "email_notification": True,
        "current_spend_usd": "0.00", "alert_levels": [], "per_user": False,
    }  # fmt: skip
    code, out, _ = run(capsys, "--db", db_url, "budgets", "update", created["id"],
                       "--name", "bot2", "--format", "json")  # fmt: skip
    assert json.loads(out) == {**created, "name": "bot2"}


def test_status_only_reads_and_warns_when_alerts_cannot_be_emailed(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    due_alerts_dataset(db_url, datetime.now(UTC))
    before = snapshot(db_url)
    code, out, err = run(capsys, "--db", db_url, "budgets", "status")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == NO_EMAIL_SETTINGS_WARNING
    assert [line.split()[1] for line in lines[2:]] == ["alice", "org", "small"]
    code, out, _ = run(capsys, "--db", db_url, "budgets", "status", "--format", "json")
    shown = json.loads(out)
    assert shown["email_warning"] == NO_EMAIL_SETTINGS_WARNING
    assert [(s["budget"]["name"], s["spend_usd"], s["status"]) for s in shown["statuses"]] == [
        ("alice", "90.000000", "ok"), ("org", "120.000000", "exceeded"),
        ("small", "120.000000", "exceeded"),
    ]  # fmt: skip
    assert snapshot(db_url) == before


def test_status_has_no_warning_when_email_works(
    db_url: str, mail: Inbox, capsys: pytest.CaptureFixture[str]
) -> None:
    due_alerts_dataset(db_url, datetime.now(UTC))  # small's alert is emailed when recorded
    code, out, _ = run(capsys, "--db", db_url, "budgets", "status")
    assert code == 0 and "WARNING" not in out
    assert out.splitlines()[0].split()[:2] == ["id", "name"]
    assert len(mail.messages) == 1


def test_evaluate_writes_and_emails_what_is_due(
    db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    due_alerts_dataset(db_url, datetime.now(UTC))  # no email settings yet: small's waits
    with smtp_server() as (port, inbox):
        for name, value in {"HOST": "127.0.0.1", "PORT": str(port), "SECURITY": "none",
                            "FROM": "budgets@example.com"}.items():  # fmt: skip
            monkeypatch.setenv(f"AA_SMTP_{name}", value)
        monkeypatch.setenv("AA_BUDGET_ALERT_EMAILS", "ops@example.com, cfo@example.com")
        code, out, err = run(capsys, "--db", db_url, "budgets", "evaluate")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "evaluated 3 budgets: 2 exceeded, 1 ok; spend written back",
        "fired 2 alerts:",
        "  org: warning at 80%, $120.00 of $100.00",
        "  org: exceeded, $120.00 of $100.00",
        "emailed 3 alerts to o***@example.com, c***@example.com:",
        "  small: exceeded, $90.00 of $10.00",
        "  org: warning at 80%, $120.00 of $100.00",
        "  org: exceeded, $120.00 of $100.00",
    ]
    assert [m["Subject"] for m in inbox.messages] == [
        "Budget 'small' exceeded its threshold: $90.00 of $10.00",
        "Budget 'org' reached 80%: $120.00 of $100.00",
        "Budget 'org' exceeded its threshold: $120.00 of $100.00",
    ]
    assert inbox.envelopes == [["ops@example.com", "cfo@example.com"]] * 3
    assert [(kind, notified) for kind, _, notified in events(db_url)] == [
        ("exceeded", True), ("warning", True), ("exceeded", True)
    ]  # fmt: skip
    assert snapshot(db_url)["budgetalerts"] != []
    code, out, _ = run(capsys, "--db", db_url, "budgets", "list", "--format", "json")
    spends = {row["name"]: row["current_spend_usd"] for row in json.loads(out)}
    assert spends == {"alice": 90.0, "org": 120.0, "small": 120.0}


def test_evaluate_without_email_settings_warns_and_exits_1(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    due_alerts_dataset(db_url, datetime.now(UTC))
    code, out, err = run(capsys, "--db", db_url, "budgets", "evaluate")
    assert (code, err) == (1, "")
    assert out.splitlines() == [
        "evaluated 3 budgets: 2 exceeded, 1 ok; spend written back",
        "fired 2 alerts:",
        "  org: warning at 80%, $120.00 of $100.00",
        "  org: exceeded, $120.00 of $100.00",
        NO_EMAIL_SETTINGS_WARNING,
    ]
    assert [(kind, notified) for kind, _, notified in events(db_url)] == [
        ("exceeded", False), ("warning", False), ("exceeded", False)
    ]  # fmt: skip
    code, out, _ = run(capsys, "--db", db_url, "budgets", "evaluate", "--format", "json")
    shown = json.loads(out)
    assert (code, shown["fired"], shown["statuses"]["email_warning"]) == (
        1, [], NO_EMAIL_SETTINGS_WARNING
    )  # fmt: skip
    assert len(shown["delivery"]["unsent"]) == 3 and shown["delivery"]["sent"] == []


@pytest.mark.parametrize("action", ["list", "status", "evaluate"])
def test_an_action_that_reads_every_budget_refuses_budget_fields(
    db_url: str, capsys: pytest.CaptureFixture[str], action: str
) -> None:
    """`budgets status --period-days 3` showed each budget's own 30 days, silently."""
    code, _, err = run(capsys, "--db", db_url, "budgets", action, "--period-days", "3",
                       "--budget-user", str(uuid.uuid4()))  # fmt: skip
    assert code == 2
    assert f"`budgets {action}` takes no budget fields (got --period-days, --budget-user)" in err


def test_create_names_the_options_it_cannot_do_without(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "--db", db_url, "budgets", "create", "--scope", "global")
    assert code == 2
    assert err.strip() == (
        "aa-notebooks: error: `budgets create` needs --threshold-usd (an amount in USD) and "
        "--alert-type (warning or hard_stop)"
    )
    code, _, err = run(capsys, "--db", db_url, "budgets", "create", "--threshold-usd", "5")
    assert (code, err.strip()) == (
        2, "aa-notebooks: error: `budgets create` needs --alert-type (warning or hard_stop)"
    )  # fmt: skip


@pytest.mark.parametrize("hint", [NO_BUDGETS, EMPTY], ids=["budget report", "dashboard panel"])
def test_the_command_a_hint_gives_creates_a_budget(
    db_url: str, capsys: pytest.CaptureFixture[str], hint: str
) -> None:
    """The budget report and the dashboard say how to make a first budget: that works."""
    options = hint.split("budgets create", 1)[1].split("`")[0].split()
    code, _, err = run(capsys, "--db", db_url, "budgets", "create", *options)
    assert (code, err) == (0, "")
    assert list(list_budgets(db_url)["threshold_usd"]) == [100]


def test_status_of_one_budget_by_its_id(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`budgets status ID` showed every budget, the id taken and unused."""
    two_budgets(db_url)
    code, out, _ = run(capsys, "budgets", "status", RESEARCHER, "--db", db_url, "--format", "json")
    assert code == 0
    shown = json.loads(out)["statuses"]
    assert [status["budget"]["name"] for status in shown] == ["researcher"]
    unknown = "00000000-0000-4000-8000-0000000000ff"
    code, _, err = run(capsys, "budgets", "status", unknown, "--db", db_url)
    assert code != 0 and f"no active budget {unknown} here" in err
    code, _, err = run(capsys, "budgets", "list", RESEARCHER, "--db", db_url)
    assert code != 0 and f"`budgets list` takes no budget id (got {RESEARCHER})" in err
