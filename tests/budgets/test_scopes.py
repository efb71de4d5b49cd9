"""Each scope counts exactly its executions, in budget_status (summed from the executions) and in
check_budget (read from the ledger), and the rolling window's edges are inclusive."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from aa_notebooks.budgets import budget_status, check_budget, create_budget
from aa_notebooks.errors import BudgetExceededError
from tests.budgets.conftest import ALICE, BOB, NOW, RESEARCHER, WRITER, record

# Costs are powers of two, so every scope's sum names exactly the executions it counts.
EXECUTIONS: list[tuple[str, dict[str, Any]]] = [
    ("1", {"user_id": ALICE, "agent_name": "researcher", "agent_id": RESEARCHER,
           "flow_id": "onboarding"}),
    ("2", {"user_id": BOB, "agent_name": "researcher", "agent_id": RESEARCHER}),
    ("4", {"user_id": ALICE, "agent_name": "writer", "agent_id": WRITER, "flow_id": "billing"}),
    ("8", {"user_id": BOB, "agent_name": "writer", "agent_id": WRITER, "flow_id": "onboarding"}),
    ("16", {"agent_id": RESEARCHER}),
]  # fmt: skip

SCOPES = [
    pytest.param({"scope": "user", "user_id": ALICE}, {"user_id": ALICE}, "5", id="user"),
    pytest.param({"scope": "agent", "target": "researcher"}, {"agent": "researcher"}, "3",
                 id="agent-by-name"),
    pytest.param({"scope": "agent", "target": str(RESEARCHER)}, {"agent_id": RESEARCHER}, "19",
                 id="agent-by-id"),
    pytest.param({"scope": "agent", "target": str(RESEARCHER)}, {"agent": str(RESEARCHER)}, "19",
                 id="agent-by-id-as-text"),
    pytest.param({"scope": "flow", "target": "onboarding"}, {"flow": "onboarding"}, "9",
                 id="flow"),
    pytest.param({"scope": "global"}, {}, "31", id="global"),
    pytest.param({"scope": "global", "user_id": BOB}, {}, "31", id="global-owned-by-a-user"),
]  # fmt: skip


def _record_all(url: str) -> None:
    for cost, fields in EXECUTIONS:
        record(url, cost, NOW - timedelta(hours=3), **fields)


@pytest.mark.parametrize(("scope", "matching", "spend"), SCOPES)
def test_each_scope_counts_its_executions(
    db_url: str, scope: dict, matching: dict, spend: str
) -> None:
    _record_all(db_url)
    budget = create_budget(db_url, **scope, threshold_usd=100, alert_type="hard_stop")
    [status] = budget_status(db_url, now=NOW)
    assert status.budget.id == budget.id
    assert status.spend_usd == Decimal(spend)


@pytest.mark.parametrize(("scope", "matching", "spend"), SCOPES)
def test_a_hard_stop_refuses_exactly_at_its_threshold(
    db_url: str, scope: dict, matching: dict, spend: str
) -> None:
    _record_all(db_url)
    below = create_budget(db_url, **scope, threshold_usd=Decimal(spend) + Decimal("0.01"),
                          alert_type="hard_stop", name="below")  # fmt: skip
    check_budget(db_url, **matching, now=NOW)
    create_budget(db_url, **scope, threshold_usd=spend, alert_type="hard_stop", name="at")
    with pytest.raises(BudgetExceededError) as refused:
        check_budget(db_url, **matching, now=NOW)
    assert (refused.value.budget_name, refused.value.spend_usd) == ("at", Decimal(spend))
    assert refused.value.threshold_usd == Decimal(spend)
    assert below.name == "below"


def test_budgets_of_other_scopes_do_not_stop_an_execution(db_url: str) -> None:
    _record_all(db_url)
    for scope in ({"scope": "user", "user_id": BOB}, {"scope": "agent", "target": "writer"},
                  {"scope": "flow", "target": "billing"}):  # fmt: skip
        create_budget(db_url, **scope, threshold_usd=1, alert_type="hard_stop")
    check_budget(db_url, user_id=ALICE, agent="researcher", flow="onboarding", now=NOW)
    with pytest.raises(BudgetExceededError):
        check_budget(db_url, user_id=BOB, now=NOW)
    with pytest.raises(BudgetExceededError):
        check_budget(db_url, agent="writer", agent_id=WRITER, now=NOW)
    # A budget on the agent's name cannot know its id: give the name (the tracker gives both).
    check_budget(db_url, agent_id=WRITER, now=NOW)
    with pytest.raises(BudgetExceededError):
        check_budget(db_url, flow="billing", now=NOW)


@pytest.mark.parametrize("now", [NOW, NOW.replace(minute=0)], ids=["mid-hour", "on-the-hour"])
def test_the_window_includes_both_ends(db_url: str, now) -> None:
    """[now - period_days, now]: an execution at exactly now - 30 days counts, one a minute
    earlier does not; one at exactly now counts, one a minute later (clock skew) does not."""
    start = now - timedelta(days=30)
    record(db_url, "1", start, now=now)
    record(db_url, "2", start - timedelta(minutes=1), now=now)
    record(db_url, "4", now, now=now)
    record(db_url, "8", now + timedelta(minutes=1), now=now)
    record(db_url, "16", start + timedelta(days=15), now=now)
    create_budget(db_url, threshold_usd=21, alert_type="hard_stop", name="edge")
    [status] = budget_status(db_url, now=now)
    assert status.spend_usd == Decimal(21)
    assert (status.window.start, status.window.end) == (start, now)
    with pytest.raises(BudgetExceededError) as refused:
        check_budget(db_url, now=now)
    assert refused.value.spend_usd == Decimal(21)
    # A second later the oldest execution has left the window.
    check_budget(db_url, now=now + timedelta(seconds=1))
    assert budget_status(db_url, now=now + timedelta(seconds=1))[0].spend_usd == Decimal(20)
