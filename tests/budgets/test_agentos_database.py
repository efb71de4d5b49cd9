"""Budgets on a database made by the data contract's DDL (GenAI AgentOS): global and user
budgets work, summed from the executions; agent and flow budgets are unavailable, clearly."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from aa_notebooks.budgets import (
    Status,
    apply_spend,
    budget_status,
    check_budget,
    create_budget,
    evaluate_budgets,
    list_budgets,
    rebuild_spend_ledger,
    update_budget,
)
from aa_notebooks.db.engine import get_engine
from aa_notebooks.errors import BudgetExceededError, SchemaError
from tests.budgets.conftest import ALICE, NOW, record, stored_spends

pytestmark = pytest.mark.postgres


def test_global_and_user_budgets_work(agentos_url: str) -> None:
    org = create_budget(agentos_url, threshold_usd=10, alert_type="hard_stop")
    mine = create_budget(agentos_url, scope="user", user_id=ALICE, threshold_usd=4,
                         alert_type="warning")  # fmt: skip
    record(agentos_url, "6", NOW - timedelta(hours=2), user_id=ALICE)
    check_budget(agentos_url, user_id=ALICE, now=NOW)
    record(agentos_url, "4", NOW - timedelta(hours=1))
    with pytest.raises(BudgetExceededError, match=str(org.id)):
        check_budget(agentos_url, now=NOW)
    statuses = {s.budget.id: s for s in budget_status(agentos_url, now=NOW)}
    assert (statuses[org.id].spend_usd, statuses[org.id].status) == (10, Status.exceeded)
    assert (statuses[mine.id].spend_usd, statuses[mine.id].status) == (6, Status.exceeded)
    assert stored_spends(agentos_url) == {org.id: 0.0, mine.id: 0.0}  # only read
    evaluation = evaluate_budgets(agentos_url, now=NOW)  # no events table: nothing to fire
    assert (evaluation.fired, evaluation.delivery.sent, evaluation.ok) == ((), (), True)
    assert evaluation.alerts_off and evaluation.lines()[-1] == (
        "budget alerts are off on this database: it has no budgetalertevents table to record "
        "them in (an attached AgentOS database), so none fires or is emailed; the statuses above "
        "stand"
    )
    assert stored_spends(agentos_url)[org.id] == 10.0
    frame = list_budgets(agentos_url, now=NOW).set_index("id")
    assert frame.loc[str(org.id), "current_spend_usd"] == 10.0
    assert frame.loc[str(mine.id), "name"] is None


def test_kit_only_fields_and_scopes_are_refused_clearly(agentos_url: str) -> None:
    with pytest.raises(SchemaError, match=r"no budgetalerts\.name column .* leave out name"):
        create_budget(agentos_url, name="org", threshold_usd=1, alert_type="warning")
    for scope in ("agent", "flow"):
        with pytest.raises(SchemaError, match=rf"{scope} budgets need the budgetalerts\.target"):
            create_budget(agentos_url, scope=scope, target="x", threshold_usd=1,
                          alert_type="warning")  # fmt: skip
    budget = create_budget(agentos_url, threshold_usd=1, alert_type="warning")
    with pytest.raises(SchemaError, match=r"agent budgets need the budgetalerts\.target"):
        update_budget(agentos_url, budget.id, scope="agent", target="researcher")
    with pytest.raises(SchemaError, match="no budgetspendledger table"):
        rebuild_spend_ledger(agentos_url)


def test_rows_agentos_made_read_with_the_documents_defaults(agentos_url: str) -> None:
    """An agent budget made by AgentOS (it has no target here) is shown as unavailable and never
    blocks; NULL columns read as the DDL's defaults."""
    agent_row, global_row = uuid.uuid4(), uuid.uuid4()
    with get_engine(agentos_url).begin() as connection:
        connection.execute(
            text("INSERT INTO budgetalerts (id, scope, threshold_usd, alert_type) VALUES "
                 "(:a, 'agent', 1, 'hard_stop'), (:g, 'global', 50, 'warning')"),
            {"a": agent_row, "g": global_row},
        )  # fmt: skip
        connection.execute(
            text("UPDATE budgetalerts SET period_days = NULL, alert_at_percentage = NULL, "
                 "is_active = NULL, email_notification = NULL WHERE id = :g"),
            {"g": global_row},
        )  # fmt: skip
    record(agentos_url, "45", NOW - timedelta(days=29), agent_name="researcher")
    check_budget(agentos_url, agent="researcher", now=NOW)
    statuses = {s.budget.id: s for s in budget_status(agentos_url, now=NOW)}
    unavailable = statuses[agent_row]
    assert unavailable.status is Status.unavailable and unavailable.spend_usd is None
    assert "agent budgets need the budgetalerts.target column" in unavailable.reason
    defaults = statuses[global_row]
    assert (defaults.budget.period_days, defaults.budget.alert_at_percentage) == (30, 80)
    assert defaults.budget.is_active and defaults.budget.email_notification
    assert (defaults.spend_usd, defaults.status) == (Decimal(45), Status.warning)


def test_recording_keeps_the_execution_and_says_what_it_could_not_store(
    agentos_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="aa_notebooks.db"):
        record(agentos_url, "1", NOW, flow_id="onboarding")
    assert "agentexecutions has no column flow_id: those values are not stored" in caplog.text
    with get_engine(agentos_url).begin() as connection:
        assert connection.execute(text("SELECT cost_usd FROM agentexecutions")).scalar() == 1
        assert apply_spend(connection, [{"cost_usd": 1, "started_at": NOW}]) == 0
