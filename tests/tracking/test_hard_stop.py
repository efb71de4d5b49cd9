"""The hard-stop check runs before the work: a spent hard_stop budget of the run's scope
refuses it with BudgetExceededError, and nothing is recorded for it; a warning budget never
blocks; an execution already running is recorded even when it takes spend past the threshold."""

from __future__ import annotations

import logging
import sqlite3
from decimal import Decimal

import pytest
from sqlalchemy import make_url

from aa_notebooks.budgets import create_budget
from aa_notebooks.budgets.ledger import TRUSTED_KEY
from aa_notebooks.db.engine import dispose_engine
from aa_notebooks.errors import BudgetExceededError
from aa_notebooks.tracking import Tracker, track_agent
from tests.budgets.conftest import read_only
from tests.tracking.conftest import counts, executions

# gpt-4o: 1,200 input + 300 output tokens cost $0.006000.


def spend(tracker: Tracker, agent: str, times: int) -> None:
    """Record `times` executions of `agent` costing $0.006 each."""
    for _ in range(times):
        with tracker.execution(agent_name=agent) as run:
            run.tokens("main_agent", "gpt-4o", 1200, 300)
    tracker.flush()


def test_spent_hard_stop_refuses_before_the_work(db_url: str, tracker: Tracker) -> None:
    create_budget(db_url, name="researcher cap", scope="agent", target="researcher",
                  threshold_usd=Decimal("0.01"), alert_type="hard_stop", period_days=1)  # fmt: skip
    spend(tracker, "researcher", 2)  # $0.012, past the $0.01 threshold

    with (
        pytest.raises(BudgetExceededError, match="'researcher cap' is exceeded") as refused,
        tracker.execution(agent_name="researcher"),
    ):
        pytest.fail("a refused run must not start")
    assert refused.value.spend_usd == Decimal("0.01") and refused.value.threshold_usd == Decimal(
        "0.01"
    )
    spend(tracker, "writer", 1)  # another agent's scope is not stopped
    assert counts(db_url)[0] == 3  # the refused run is not recorded


def test_warning_budget_never_blocks(db_url: str, tracker: Tracker) -> None:
    create_budget(db_url, threshold_usd=Decimal("0.01"), alert_type="warning", period_days=1)
    spend(tracker, "researcher", 3)
    assert counts(db_url)[0] == 3


def test_checks_can_be_turned_off(db_url: str, spool_dir) -> None:
    create_budget(db_url, threshold_usd=Decimal("0.01"), alert_type="hard_stop", period_days=1)
    unchecked = Tracker(db_url, spool_dir=spool_dir, check_budgets=False)
    try:
        spend(unchecked, "researcher", 3)
    finally:
        unchecked.close()
    assert counts(db_url)[0] == 3


def test_a_running_execution_is_recorded_past_the_threshold(db_url: str, tracker: Tracker) -> None:
    create_budget(db_url, threshold_usd=Decimal("0.01"), alert_type="hard_stop", period_days=1)
    with tracker.execution(agent_name="long") as long_run:
        spend(tracker, "other", 2)  # the budget is spent while this run is in flight
        long_run.tokens("main_agent", "gpt-4o", 1200, 300)
    tracker.flush()
    assert [row["agent_name"] for row in executions(db_url)].count("long") == 1
    with pytest.raises(BudgetExceededError), tracker.execution(agent_name="next"):
        pass


async def test_async_block_and_decorator_are_refused(db_url: str, tracker: Tracker) -> None:
    create_budget(db_url, threshold_usd=Decimal("0.01"), alert_type="hard_stop", period_days=1)
    spend(tracker, "researcher", 2)
    called = []

    @track_agent("researcher", tracker=tracker)
    async def agent() -> None:
        called.append(True)

    with pytest.raises(BudgetExceededError):
        await agent()
    with pytest.raises(BudgetExceededError):
        async with tracker.execution(agent_name="researcher"):
            called.append(True)
    assert called == [] and counts(db_url)[0] == 2


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_row_the_check_cannot_read_is_warned_of_once_not_taken_for_no_budgets(
    db_url: str, tracker: Tracker, caplog: pytest.LogCaptureFixture
) -> None:
    """Another program's agent_id 'planner-agent' (no UUID) in a run the spend is rebuilt from:
    the check cannot count the spend. It says so, once, and the runs go ahead, as in an outage;
    before, it was silent, as if the database had no budgets."""
    create_budget(db_url, name="cap", threshold_usd=Decimal("0.01"), alert_type="hard_stop")
    spend(tracker, "researcher", 2)
    path = make_url(db_url).database
    with sqlite3.connect(str(path)) as connection:
        connection.execute("UPDATE agentexecutions SET agent_id = 'planner-agent'")
        connection.execute("DELETE FROM aa_notebooks_meta WHERE key = ?", (TRUSTED_KEY,))
    dispose_engine(db_url)  # as a new process finds the database: the spend to be rebuilt
    checked = Tracker(db_url, spool_dir=tracker.writer.spool.directory.parent / "again")
    with caplog.at_level(logging.WARNING, logger="aa_notebooks.tracking.tracker"):
        for _ in range(2):
            with checked.execution(agent_name="researcher"):
                pass
    checked.close()
    assert [r.getMessage() for r in caplog.records if "budget checks" in r.getMessage()] == [
        "budget checks are skipped and runs go ahead: an id column holds 'planner-agent', "
        "which is not a UUID: the data contract's id columns (id, user_id, agent_id, "
        "request_id, session_id, execution_id) hold UUIDs. Write UUIDs there (str(uuid)), or "
        "NULL where a column allows it; `aa-notebooks check-db` names the columns"
    ]


def test_a_database_that_refuses_writes_still_enforces_its_hard_stops(
    db_url: str, spool_dir, caplog: pytest.LogCaptureFixture
) -> None:
    """A role that may only read (here a read-only database): its first refused write was taken
    for an outage, said "unreachable", and switched the hard-stop check off, so a spent agent's
    runs went ahead; on PostgreSQL the refused write set the record aside for good. The records
    now wait in the spool, and the check, which only reads, goes on."""
    create_budget(db_url, name="researcher cap", scope="agent", target="researcher",
                  threshold_usd=Decimal("0.01"), alert_type="hard_stop", period_days=1)  # fmt: skip
    writable = Tracker(db_url, spool_dir=spool_dir / "first")
    spend(writable, "researcher", 2)  # $0.012, past the $0.01 threshold
    writable.close()
    tracker = Tracker(read_only(db_url), spool_dir=spool_dir / "second", retry_interval_s=60)
    try:
        with caplog.at_level(logging.WARNING, logger="aa_notebooks.tracking"):
            spend(tracker, "writer", 1)
        assert tracker.writer.spooling and tracker.writer.refused == 0
        assert "refuses this role (" in caplog.text and "unreachable" not in caplog.text
        for _ in range(2):
            with (
                pytest.raises(BudgetExceededError, match="'researcher cap' is exceeded"),
                tracker.execution(agent_name="researcher"),
            ):
                pass
    finally:
        tracker.close()
    assert counts(db_url)[0] == 2  # the writer's run waits in the spool
