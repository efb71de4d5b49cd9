"""The dashboard's budgets panel shows `budget_status()`: each budget's numbers, a bar
coloured by status, names escaped, in words when there are no budgets or none can exist, and a
warning when alerts are due that the email settings cannot send."""

from __future__ import annotations

import html
import re
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from aa_notebooks.analytics import Analytics
from aa_notebooks.budgets import Budget, create_budget
from aa_notebooks.budgets.client import BudgetClient
from aa_notebooks.budgets.status import assess, unavailable
from aa_notebooks.db.engine import dispose_engine, get_engine
from aa_notebooks.db.schema import BudgetAlertType, BudgetScope
from aa_notebooks.ui import Dashboard
from aa_notebooks.ui.budgets_panel import EMPTY, STATUS_COLORS, BudgetsPanel, displayed_row
from tests.budgets.conftest import NO_EMAIL_SETTINGS_WARNING
from tests.ui.conftest import html_of
from tests.ui.dataset import NOW, SCRIPT, U1, U2


def _budgets(url: str) -> None:
    """Spend worked out from the dataset (see tests/ui/dataset.py):
    org, global, 7d: E1-E5 = 0.15 + 0.30 + 0.09 + 0 + 0.63 = $1.17 of $10 (ok);
    SCRIPT, user U1, 30d: E1 + E2 + E5 + E6 + E8 = 0.15 + 0.30 + 0.63 + 0.10 + 0.50 = $1.68 of $2
    (84%, warning, hard stop); planner, agent, 7d: E1 + E2 = $0.45 of $0.40 (exceeded)."""
    create_budget(url, name="org", threshold_usd=10, period_days=7, alert_type="warning")
    create_budget(url, name=SCRIPT, scope="user", user_id=U1, threshold_usd=2,
                  alert_type="hard_stop")  # fmt: skip
    create_budget(url, name="planner", scope="agent", target="planner", threshold_usd="0.40",
                  period_days=7, alert_type="warning", user_id=U2)  # fmt: skip


EXPECTED = {
    "org": {"Budget": "org", "Scope": "global", "Spend": "$1.17 / $10.00", "Used": "11.70%",
            "Status": "ok", "Stop": ""},
    SCRIPT: {"Budget": SCRIPT, "Scope": f"user {U1}", "Spend": "$1.68 / $2.00",
             "Used": "84.00%", "Status": "warning", "Stop": "hard stop"},
    "planner": {"Budget": "planner", "Scope": "agent planner", "Spend": "$0.45 / $0.40",
                "Used": "112.50%", "Status": "exceeded", "Stop": ""},
}  # fmt: skip


def test_the_panel_shows_budget_status(url: str, analytics: Analytics) -> None:
    _budgets(url)
    panel = BudgetsPanel()
    panel.refresh(analytics)
    statuses = BudgetClient.of(analytics).status()
    assert panel.rows == [displayed_row(status) for status in statuses]
    assert {row["Budget"]: row for row in panel.rows} == EXPECTED
    assert panel.note == ""


def test_the_dashboard_shows_its_scopes_budgets(url: str, analytics: Analytics, tmp_path: Path):
    _budgets(url)
    board = Dashboard(analytics, export_dir=tmp_path)
    assert board.budgets_area.children == (board.budgets.widget,)
    assert sorted(row["Budget"] for row in board.budgets.rows) == sorted(EXPECTED)
    board.set_user(str(U2))  # U2 owns the planner budget only
    assert board.budgets.rows == [EXPECTED["planner"]]
    markup = "\n".join(html_of(board.widget))
    assert SCRIPT not in markup


def _budget(scope: BudgetScope = BudgetScope.global_, **fields: object) -> Budget:
    values: dict = {"id": uuid.uuid4(), "name": "b", "scope": scope, "target": None,
                    "user_id": None, "threshold_usd": Decimal(100), "period_days": 30,
                    "alert_type": BudgetAlertType.warning, "alert_at_percentage": 80,
                    "is_active": True, "email_notification": True,
                    "current_spend_usd": Decimal(0)}  # fmt: skip
    return Budget(**(values | fields))


def _rows_by_status(markup: str) -> dict[str, str]:
    return dict(re.findall(r'<tr data-status="(\w+)">(.*?)</tr>', markup))


def test_each_status_has_its_colour_and_bar() -> None:
    panel = BudgetsPanel()
    panel.show(
        [
            assess(_budget(name="fine"), Decimal("12.5"), NOW),
            assess(_budget(name="close"), Decimal(80), NOW),
            assess(_budget(name="over", alert_type=BudgetAlertType.hard_stop), Decimal(150), NOW),
            unavailable(_budget(BudgetScope.flow, name="flow", target="f"), NOW, "no <flows>"),
        ]
    )
    rows = _rows_by_status(panel.widget.value)
    assert set(rows) == {"ok", "warning", "exceeded", "unavailable"}
    for status, row in rows.items():
        color = STATUS_COLORS[status]
        assert row.count(f"background:{color}") == 2, status  # the bar and the status badge
        others = set(STATUS_COLORS.values()) - {color}
        assert not any(other in row for other in others), status
    assert "width:12.50%" in rows["ok"] and "width:80.00%" in rows["warning"]
    assert "width:100.00%" in rows["exceeded"]  # full, not 150%
    assert "width:0.00%" in rows["unavailable"]
    assert "no &lt;flows&gt;" in rows["unavailable"]
    assert [(r["Spend"], r["Used"], r["Stop"]) for r in panel.rows] == [
        ("$12.50 / $100.00", "12.50%", ""),
        ("$80.00 / $100.00", "80.00%", ""),
        ("$150.00 / $100.00", "150.00%", "hard stop"),
        ("– / $100.00", "–", ""),
    ]
    assert panel.rows[3]["Scope"] == "flow f"


def test_a_hostile_name_is_escaped(url: str, analytics: Analytics) -> None:
    _budgets(url)
    panel = BudgetsPanel()
    panel.refresh(analytics)
    assert SCRIPT not in panel.widget.value and "<script" not in panel.widget.value
    assert f"<td>{html.escape(SCRIPT)}</td>" in panel.widget.value


def test_no_budgets_is_said_in_words(dashboard: Dashboard) -> None:
    assert dashboard.budgets.rows == []
    assert dashboard.budgets.note == EMPTY
    assert EMPTY.startswith("No active budgets. Create one with %agent_analytics budgets create")
    assert html.escape(EMPTY) in dashboard.budgets.widget.value


def test_a_database_without_budgets_is_one_line(url: str, analytics: Analytics, tmp_path: Path):
    with get_engine(url).begin() as connection:
        connection.exec_driver_sql("DROP TABLE budgetalertevents")
        connection.exec_driver_sql("DROP TABLE budgetalerts")
    dispose_engine(url)  # forget the tables seen so far
    board = Dashboard(analytics, export_dir=tmp_path)
    assert board.budgets.note.startswith(
        "Budgets are not available here: this database has no budgetalerts table"
    )
    assert board.budgets.rows == [] and board.message == ""
    assert board.kpis["Total Executions"] == "5"


def test_the_panel_warns_when_alerts_cannot_be_emailed(
    url: str, analytics: Analytics, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Due here: SCRIPT's warning level (84%) and planner's warning and exceeded levels (112.5%),
    none recorded yet; org is ok. Without email settings that is said above the table."""
    monkeypatch.delenv("AA_BUDGET_ALERT_EMAILS", raising=False)
    _budgets(url)
    panel = BudgetsPanel()
    panel.refresh(analytics)
    assert panel.warning == NO_EMAIL_SETTINGS_WARNING
    assert f'<div class="aa-notice aa-error">{html.escape(NO_EMAIL_SETTINGS_WARNING)}</div>' in (
        panel.widget.value
    )
    assert {row["Budget"]: row for row in panel.rows} == EXPECTED  # the rows as before
    monkeypatch.setenv("AA_SMTP_HOST", "mail.example.com")
    panel.refresh(analytics)
    assert panel.warning == (
        "WARNING: 3 budget alerts are due but cannot be emailed: AA_SMTP_FROM and "
        "AA_BUDGET_ALERT_EMAILS are not set. Complete the email settings where `aa-notebooks "
        "budgets evaluate` runs; until then no alert email is sent."
    )
    monkeypatch.setenv("AA_SMTP_FROM", "budgets@example.com")
    monkeypatch.setenv("AA_BUDGET_ALERT_EMAILS", "ops@example.com")
    panel.refresh(analytics)
    assert panel.warning == "" and "aa-error" not in panel.widget.value
