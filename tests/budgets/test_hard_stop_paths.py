"""The hard-stop rule has one implementation: the driver fast path (compiled from the Core
statements) and the SQLAlchemy path refuse exactly the runs worked out by hand below, on every
kind of budget and on the edges of the windows."""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta

from aa_notebooks.budgets import create_budget
from aa_notebooks.budgets.capabilities import capabilities
from aa_notebooks.budgets.guard import check_on_connection, check_on_driver, run_keys
from aa_notebooks.budgets.ledger import ledger_ready
from aa_notebooks.db.engine import get_engine
from aa_notebooks.errors import BudgetExceededError
from tests.budgets.conftest import ALICE, BOB, NOW, RESEARCHER, record

DAY = timedelta(days=1)
USERS = (None, ALICE, BOB)
AGENTS = (None, "researcher", "writer", str(RESEARCHER))
AGENT_IDS = (None, RESEARCHER)
FLOWS = (None, "nightly")


def budgets_and_spend(url: str) -> None:
    """Executions (costs in $) and budgets whose outcome is known by hand; the 1-day windows
    are [NOW - 1 day, NOW], both ends included.

    Refusing:
    - "alice cap", user ALICE, $5 in 1 day: $3 at NOW - 30 min and $2 exactly at the window's
      start (counted: $5 reached; without the start it would be $3);
    - "bob's writer cap", agent "writer" owned by BOB, $3 in 1 day: ALICE's $3 run of "writer"
      (an agent budget counts the agent's runs whoever owns it);
    - "researcher cap", agent "researcher", $6 in 1 day: BOB's $6 run;
    - "researcher id cap", agent RESEARCHER (an id), $1 in 1 day: a $1 run with that agent_id
      under another name.
    Not refusing:
    - "org", global, $50 in 7 days: $16 in the window (the $100 after NOW does not count);
    - "bob cap", user BOB, $50 in 1 day: $6 (the $100 after NOW does not count);
    - "nightly cap", flow "nightly", $4 in 1 day: its $4 run is 1 µs before the window;
    - "warn all", global warning at $1; "off", global hard stop at $1, inactive.
    """
    record(url, "6", NOW - timedelta(hours=2), user_id=BOB, agent_name="researcher")
    record(url, "3", NOW - timedelta(minutes=30), user_id=ALICE, agent_name="writer")
    record(url, "2", NOW - DAY, user_id=ALICE)
    record(url, "4", NOW - DAY - timedelta(microseconds=1), flow_id="nightly")
    record(url, "1", NOW - timedelta(minutes=10), agent_name="other", agent_id=RESEARCHER)
    record(url, "100", NOW + timedelta(minutes=1), user_id=BOB)
    hard = {"alert_type": "hard_stop", "period_days": 1}
    create_budget(url, name="alice cap", scope="user", user_id=ALICE, threshold_usd=5, **hard)
    create_budget(url, name="bob's writer cap", scope="agent", target="writer", user_id=BOB,
                  threshold_usd=3, **hard)  # fmt: skip
    create_budget(url, name="researcher cap", scope="agent", target="researcher",
                  threshold_usd=6, **hard)  # fmt: skip
    create_budget(url, name="researcher id cap", scope="agent", target=str(RESEARCHER),
                  threshold_usd=1, **hard)  # fmt: skip
    create_budget(url, name="org", threshold_usd=50, alert_type="hard_stop", period_days=7)
    create_budget(url, name="bob cap", scope="user", user_id=BOB, threshold_usd=50, **hard)
    create_budget(url, name="nightly cap", scope="flow", target="nightly", threshold_usd=4, **hard)
    create_budget(url, name="warn all", threshold_usd=1, alert_type="warning", period_days=7)
    create_budget(url, name="off", threshold_usd=1, is_active=False, **hard)


def expected_refusal(
    user: uuid.UUID | None, agent: str | None, agent_id: uuid.UUID | None
) -> str | None:
    """The budget that refuses a run, worked out by hand: the first reached, by name."""
    reached = {
        "alice cap": user == ALICE,
        "bob's writer cap": agent == "writer",
        "researcher cap": agent == "researcher",
        "researcher id cap": agent == str(RESEARCHER) or agent_id == RESEARCHER,
    }
    return next((name for name, hit in sorted(reached.items()) if hit), None)


def refusal(check, url: str, **run) -> str | None:
    """The name of the budget `check` refuses the run with, or None when it may start."""
    engine = get_engine(url)
    try:
        check(engine, capabilities(engine), run_keys(**run), NOW, lambda key: 0)
    except BudgetExceededError as refused:
        return refused.budget_name
    return None


def test_both_paths_refuse_exactly_the_runs_worked_out_by_hand(db_url: str) -> None:
    budgets_and_spend(db_url)
    assert ledger_ready(get_engine(db_url))
    runs = list(itertools.product(USERS, AGENTS, AGENT_IDS, FLOWS))
    expected = {run: expected_refusal(*run[:3]) for run in runs}
    for check in (check_on_driver, check_on_connection):
        found = {
            (user, agent, agent_id, flow): refusal(
                check, db_url, user_id=user, agent=agent, agent_id=agent_id, flow=flow
            )
            for user, agent, agent_id, flow in runs
        }
        assert found == expected, check.__name__
    assert sum(name is None for name in expected.values()) == 4  # no user or BOB, no agent
