"""`%agent_analytics budgets status` and `budgets evaluate` in a real IPython shell: status
only reads and shows the warning when alerts are due that cannot be emailed; evaluate writes,
records the alerts and says so; both can be kept with -o."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell

from aa_notebooks.budgets import Evaluation
from tests.budgets.conftest import (
    ALICE,
    NO_EMAIL_SETTINGS_WARNING,
    due_alerts_dataset,
    events,
    snapshot,
)


@pytest.fixture
def shell(ip: InteractiveShell, db_url: str, monkeypatch: pytest.MonkeyPatch) -> InteractiveShell:
    monkeypatch.delenv("AA_BUDGET_ALERT_EMAILS", raising=False)
    due_alerts_dataset(db_url, datetime.now(UTC))
    ip.run_line_magic("config", f"AgentAnalytics.database_url = {db_url!r}")
    return ip


def test_status_reads_and_warns(shell: InteractiveShell, db_url: str) -> None:
    before = snapshot(db_url)
    statuses = shell.run_line_magic("agent_analytics", "budgets status -o budgets")
    assert isinstance(statuses, pd.DataFrame) and shell.user_ns["budgets"] is statuses
    assert list(statuses["name"]) == ["alice", "org", "small"]
    assert statuses.attrs["email_warning"] == NO_EMAIL_SETTINGS_WARNING
    shown, _ = shell.display_formatter.format(statuses)
    assert escape(NO_EMAIL_SETTINGS_WARNING) in shown["text/html"]
    assert shown["text/html"].index("WARNING") < shown["text/html"].index("<table")
    assert snapshot(db_url) == before


def test_evaluate_writes_and_says_what_it_did(shell: InteractiveShell, db_url: str) -> None:
    evaluation = shell.run_line_magic("agent_analytics", "budgets evaluate -o done")
    assert isinstance(evaluation, Evaluation) and shell.user_ns["done"] is evaluation
    assert [str(notice) for notice in evaluation.fired] == [
        "org: warning at 80%, $120.00 of $100.00",
        "org: exceeded, $120.00 of $100.00",
    ]
    assert not evaluation.ok and evaluation.problem == NO_EMAIL_SETTINGS_WARNING
    assert [kind for kind, _, _ in events(db_url)] == ["exceeded", "warning", "exceeded"]
    html = shell.display_formatter.format(evaluation)[0]["text/html"]
    assert escape(NO_EMAIL_SETTINGS_WARNING) in html
    assert "fired 2 alerts:<br>&nbsp;&nbsp;org: warning at 80%, $120.00 of $100.00" in html


def test_a_per_user_budget_has_a_status_row_per_user(shell: InteractiveShell) -> None:
    """ALICE is the only user who ran executions in the window ($90; the $30 run has no user):
    "each" ($50 for every user) shows one row, hers, exceeded."""
    shell.run_line_magic(
        "agent_analytics",
        "budgets create --name each --per-user --threshold-usd 50 --alert-type warning",
    )
    statuses = shell.run_line_magic("agent_analytics", "budgets status -o budgets")
    each = statuses[statuses["name"] == "each"].to_dict("records")
    assert [(r["user_id"], r["per_user"], r["spend_usd"], r["status"]) for r in each] == [
        (str(ALICE), True, 90.0, "exceeded"),
    ]
