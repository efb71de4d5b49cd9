"""Hard stop vs warning, recording never refused, and the ledger behind check_budget: equal to
the executions' sum, filled on first use, repaired when a writer bypassed it."""

from __future__ import annotations

import logging
import random
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from aa_notebooks.budgets import (
    Budget,
    apply_spend,
    budget_status,
    check_budget,
    create_budget,
    update_budget,
)
from aa_notebooks.budgets.spend import exact_spend, ledger_spend
from aa_notebooks.budgets.window import Window
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import AgentExecution, BudgetAlertType, BudgetScope
from aa_notebooks.errors import BudgetExceededError
from tests.budgets.conftest import ALICE, BOB, NOW, RESEARCHER, WRITER, insert_directly, record

EXECUTIONS = AgentExecution.__table__


def test_a_warning_budget_never_blocks(db_url: str) -> None:
    record(db_url, "500", NOW - timedelta(hours=1))
    create_budget(db_url, threshold_usd=10, alert_type="warning")
    check_budget(db_url, now=NOW)
    [status] = budget_status(db_url, now=NOW)
    assert status.status == "exceeded" and not status.blocking


def test_a_hard_stop_blocks_and_names_budget_spend_and_threshold(db_url: str) -> None:
    record(db_url, "10.004", NOW - timedelta(hours=1))
    create_budget(db_url, name="org cap", threshold_usd=10, alert_type="hard_stop")
    with pytest.raises(BudgetExceededError) as refused:
        check_budget(db_url, now=NOW)
    error = refused.value
    assert (error.budget_name, error.spend_usd, error.threshold_usd) == (
        "org cap", Decimal("10.00"), Decimal("10.00"),
    )  # fmt: skip
    assert "budget 'org cap' is exceeded: $10.00 spent of $10.00 (hard stop)" in str(error)
    assert budget_status(db_url, now=NOW)[0].blocking


def test_an_unnamed_budget_is_named_by_its_id(db_url: str) -> None:
    record(db_url, "2", NOW - timedelta(hours=1))
    budget = create_budget(db_url, threshold_usd=1, alert_type="hard_stop")
    with pytest.raises(BudgetExceededError, match=str(budget.id)):
        check_budget(db_url, now=NOW)


def test_inactive_budgets_and_rolled_over_windows_do_not_block(db_url: str) -> None:
    record(db_url, "5", NOW - timedelta(days=2))
    budget = create_budget(db_url, threshold_usd=5, alert_type="hard_stop", period_days=7)
    with pytest.raises(BudgetExceededError):
        check_budget(db_url, now=NOW)
    check_budget(db_url, now=NOW + timedelta(days=5, seconds=1))  # the spend left the window
    update_budget(db_url, budget.id, is_active=False)
    check_budget(db_url, now=NOW)
    update_budget(db_url, budget.id, is_active=True, threshold_usd="5.01")
    check_budget(db_url, now=NOW)


def test_recording_is_never_refused(db_url: str) -> None:
    create_budget(db_url, threshold_usd=1, alert_type="hard_stop")
    for minute in range(3):
        record(db_url, "1", NOW - timedelta(minutes=10 - minute), now=NOW)
    with get_engine(db_url).connect() as connection:
        assert connection.execute(select(func.count()).select_from(EXECUTIONS)).scalar() == 3
    assert budget_status(db_url, now=NOW)[0].spend_usd == Decimal(3)


def test_apply_spend_in_a_writers_own_transaction(db_url: str) -> None:
    create_budget(db_url, scope="user", user_id=ALICE, threshold_usd=3, alert_type="hard_stop")
    check_budget(db_url, user_id=ALICE, now=NOW)  # the ledger is now in use
    rows = [
        {"id": uuid.uuid4(), "request_id": uuid.uuid4(), "session_id": uuid.uuid4(),
         "status": "success", "user_id": ALICE, "cost_usd": Decimal("1.5"),
         "started_at": NOW - timedelta(minutes=m)}
        for m in (1, 2)
    ]  # fmt: skip
    with get_engine(db_url).begin() as connection:
        connection.execute(EXECUTIONS.insert(), rows)
        apply_spend(connection, rows, now=NOW)
    with pytest.raises(BudgetExceededError):
        check_budget(db_url, user_id=ALICE, now=NOW)


def test_a_rolled_back_write_adds_no_spend(db_url: str) -> None:
    create_budget(db_url, threshold_usd=1, alert_type="hard_stop")
    check_budget(db_url, now=NOW)
    row = {"id": uuid.uuid4(), "request_id": uuid.uuid4(), "session_id": uuid.uuid4(),
           "status": "success", "cost_usd": Decimal(5), "started_at": NOW}  # fmt: skip
    with pytest.raises(RuntimeError), get_engine(db_url).begin() as connection:
        connection.execute(EXECUTIONS.insert().values(**row))
        apply_spend(connection, [row], now=NOW)
        raise RuntimeError("the writer fails before commit")
    check_budget(db_url, now=NOW)


def test_the_first_check_fills_the_ledger_from_existing_executions(db_url: str) -> None:
    insert_directly(db_url, "7", NOW - timedelta(days=3))  # e.g. a seed's bulk load
    create_budget(db_url, threshold_usd=7, alert_type="hard_stop")
    with pytest.raises(BudgetExceededError):
        check_budget(db_url, now=NOW)


def test_evaluation_repairs_a_ledger_a_writer_bypassed(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    create_budget(db_url, name="org", threshold_usd=7, alert_type="hard_stop")
    check_budget(db_url, now=NOW)  # ledger filled and trusted
    insert_directly(db_url, "8", NOW - timedelta(days=3))
    check_budget(db_url, now=NOW)  # invisible to the ledger: why writers must use apply_spend
    with caplog.at_level(logging.WARNING, logger="aa_notebooks.budgets"):
        [status] = budget_status(db_url, now=NOW)
    assert status.spend_usd == Decimal(8)
    assert "the spend ledger disagreed with the executions for org" in caplog.text
    with pytest.raises(BudgetExceededError):
        check_budget(db_url, now=NOW)
    caplog.clear()
    budget_status(db_url, now=NOW)
    assert "disagreed" not in caplog.text


def test_the_ledger_gives_the_executions_sum_for_any_window(db_url: str) -> None:
    """Random executions over 40 days; for many `now`s (on and off the hour) and every scope,
    whole hours from the ledger plus partial hours from the executions equal the plain SUM."""
    rng = random.Random(7)
    for _ in range(120):
        started = NOW - timedelta(seconds=rng.randrange(40 * 86_400))
        record(db_url, f"{rng.randrange(1, 5_000_000) / 1_000_000:.6f}", started,
               user_id=rng.choice([ALICE, BOB, None]),
               agent_name=rng.choice(["researcher", "writer", None]),
               agent_id=rng.choice([RESEARCHER, WRITER, None]),
               flow_id=rng.choice(["onboarding", "billing", None]))  # fmt: skip
    check_budget(db_url, now=NOW)  # trust the ledger
    budgets = [
        _budget(BudgetScope.global_), _budget(BudgetScope.user, user_id=ALICE),
        _budget(BudgetScope.agent, target="researcher"),
        _budget(BudgetScope.agent, target=str(WRITER)),
        _budget(BudgetScope.flow, target="billing"),
    ]  # fmt: skip
    nows = [NOW, NOW.replace(minute=0), NOW - timedelta(days=3, seconds=17)]
    nows += [NOW - timedelta(seconds=rng.randrange(20 * 86_400)) for _ in range(5)]
    with get_engine(db_url).connect() as connection:
        for budget in budgets:
            for now in nows:
                for days in (1, 7, 30):
                    window = Window.ending(now, days)
                    exact = exact_spend(connection, budget, window)
                    assert ledger_spend(connection, budget, window) == exact, (budget, now, days)


def _budget(scope: BudgetScope, **fields) -> Budget:
    values = {"id": uuid.uuid4(), "name": None, "target": None, "user_id": None,
              "threshold_usd": Decimal(1), "period_days": 30,
              "alert_type": BudgetAlertType.hard_stop, "alert_at_percentage": 80,
              "is_active": True, "email_notification": False,
              "current_spend_usd": Decimal(0)}  # fmt: skip
    return Budget(**{**values, "scope": scope, **fields})
