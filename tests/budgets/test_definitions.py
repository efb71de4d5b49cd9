"""The hard-stop check's copy of the budgets: the generation moves with every change to a budget's
definition (not with its recorded spend), a check with no matching hard stop makes no round trip
on PostgreSQL and one tiny read on a connection held for it on SQLite, and the listener ends
with its engine."""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from aa_notebooks.budgets import (
    check_budget,
    create_budget,
    definitions,
    delete_budget,
    update_budget,
)
from aa_notebooks.budgets.capabilities import capabilities
from aa_notebooks.budgets.definitions import hard_stops
from aa_notebooks.budgets.scope import BUDGETS
from aa_notebooks.db import driver_sql
from aa_notebooks.db.engine import dispose_engine, get_engine
from aa_notebooks.db.schema import BudgetAlertType, BudgetGeneration, BudgetScope
from aa_notebooks.db.url import resolve_url
from aa_notebooks.errors import BudgetExceededError
from tests.budgets.conftest import NOW, record
from tests.budgets.test_hard_stop import NOTIFIED_WITHIN, next_check_refuses

GENERATION = BudgetGeneration.__table__


def _generation(url: str) -> int:
    with get_engine(url).connect() as connection:
        return int(connection.execute(select(GENERATION.c.generation)).scalar_one())


def test_the_generation_moves_with_definitions_not_spend(db_url: str) -> None:
    start = _generation(db_url)
    made = create_budget(db_url, threshold_usd=5, alert_type="hard_stop")
    assert _generation(db_url) == start + 1
    update_budget(db_url, made.id, threshold_usd=6)
    assert _generation(db_url) == start + 2
    with get_engine(db_url).begin() as connection:  # what `budgets evaluate` writes back
        connection.execute(BUDGETS.update().values(current_spend_usd=Decimal("1.50")))
    assert _generation(db_url) == start + 2
    delete_budget(db_url, made.id)
    assert _generation(db_url) == start + 3


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The driver statements the hard-stop check sends (its hot path goes through them all)."""
    sent: list[str] = []
    real = driver_sql.autocommit_fetch

    def counted(engine: Any, statement: str, params: Any) -> Any:
        sent.append(statement)
        return real(engine, statement, params)

    monkeypatch.setattr(driver_sql, "autocommit_fetch", counted)
    return sent


def test_a_check_with_no_matching_hard_stop_reads_almost_nothing(
    db_url: str, statements: list[str]
) -> None:
    """A hard stop of another agent is copied once; then checks of this agent send nothing
    through the pool: on PostgreSQL the listener vouches for the copy, on SQLite the
    generation's row is read on the connection held for it."""
    create_budget(db_url, threshold_usd=1, alert_type="hard_stop", scope="agent", target="other")
    wait_until_listening(db_url)
    check_budget(db_url, agent="researcher", now=NOW)
    statements.clear()
    for _ in range(5):
        check_budget(db_url, agent="researcher", now=NOW)
    assert statements == []


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_broken_held_connection_is_replaced(db_url: str, statements: list[str]) -> None:
    """SQLite: the connection that reads the generation closed behind the check's back: that
    check reads through the pool instead, the next takes a new held connection, and a hard
    stop made meanwhile by another program still refuses."""
    engine = get_engine(db_url)
    check_budget(db_url, agent="researcher", now=NOW)
    held = hard_stops(engine, capabilities(engine))._held
    assert held is not None and held._connection is not None
    held._connection.driver_connection.close()
    record(db_url, "2", NOW - timedelta(minutes=5), agent_name="researcher")
    other = create_engine(resolve_url(db_url))
    try:
        with other.begin() as connection:
            connection.execute(BUDGETS.insert().values(
                id=uuid.uuid4(), name="made elsewhere", scope=BudgetScope.agent,
                target="researcher", threshold_usd=Decimal(1), period_days=30,
                alert_type=BudgetAlertType.hard_stop, is_active=True,
            ))  # fmt: skip
    finally:
        other.dispose()
    statements.clear()
    assert next_check_refuses(db_url, True, agent="researcher", now=NOW) is not None
    assert any("budgetgeneration" in sql for sql in statements)  # read through the pool once
    statements.clear()
    check_budget(db_url, agent="other", now=NOW)
    assert not any("budgetgeneration" in sql for sql in statements)  # held again


def _insert_elsewhere(url: str, **fields: Any) -> None:
    """A hard stop inserted by another program (its own engine, no call into this process)."""
    values = {"id": uuid.uuid4(), "name": "made elsewhere", "scope": BudgetScope.agent,
              "target": "researcher", "threshold_usd": Decimal(1), "period_days": 30,
              "alert_type": BudgetAlertType.hard_stop, "is_active": True}  # fmt: skip
    other = create_engine(resolve_url(url))
    try:
        with other.begin() as connection:
            connection.execute(BUDGETS.insert().values(**{**values, **fields}))
    finally:
        other.dispose()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_generation_read_answers_checks_for_fresh_seconds(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite: one read of the generation answers the checks of the next FRESH_SECONDS (on a
    clock the test moves); a hard stop committed elsewhere counts once they have passed, and
    one made through this process's own functions at once."""
    clock = [0.0]
    monkeypatch.setattr(definitions, "_clock", lambda: clock[0])
    engine = get_engine(db_url)
    reads = []
    held = hard_stops(engine, capabilities(engine))._held
    assert held is not None
    real = held.fetch
    monkeypatch.setattr(held, "fetch", lambda: reads.append(1) or real())
    record(db_url, "2", NOW - timedelta(minutes=5), agent_name="researcher")
    check_budget(db_url, agent="researcher", now=NOW)
    assert len(reads) == 1
    _insert_elsewhere(db_url)
    clock[0] += definitions.FRESH_SECONDS / 2
    check_budget(db_url, agent="researcher", now=NOW)  # the copy, vouched for by the last read
    assert len(reads) == 1
    clock[0] = definitions.FRESH_SECONDS
    with pytest.raises(BudgetExceededError):
        check_budget(db_url, agent="researcher", now=NOW)
    assert len(reads) == 2
    made_here = create_budget(db_url, name="planner's", threshold_usd=1, alert_type="hard_stop",
                  scope="agent", target="planner")  # fmt: skip
    record(db_url, "2", NOW - timedelta(minutes=5), agent_name="planner")
    with pytest.raises(BudgetExceededError) as refused:  # same clock: no read, the copy dropped
        check_budget(db_url, agent="planner", now=NOW)
    assert refused.value.budget_name == "planner's"
    # a thread that read the budgets just before a change here stores its copy after `forget`:
    # the next check still reads the generation, which has moved past that copy's
    stops = hard_stops(engine, capabilities(engine))
    stale = stops._copy
    assert stale is not None
    update_budget(db_url, made_here.id, is_active=False)
    stops._copy = stale
    reads.clear()
    check_budget(db_url, agent="planner", now=NOW)  # the deactivated stop no longer refuses
    assert reads == [1]


def test_a_closed_hard_stops_is_made_again(db_url: str) -> None:
    """After its engine is disposed a HardStops is closed; asking again gives a new one."""
    engine = get_engine(db_url)
    first = hard_stops(engine, capabilities(engine))
    assert hard_stops(engine, capabilities(engine)) is first
    first.close()
    again = hard_stops(engine, capabilities(engine))
    assert again is not first and not again.closed


def test_a_matching_hard_stop_still_reads_its_spend_every_time(
    db_url: str, statements: list[str]
) -> None:
    """Spends are never cached: each check of a matching hard stop reads the ledger once."""
    record(db_url, "0.40", NOW - timedelta(minutes=5), agent_name="researcher")
    create_budget(
        db_url, threshold_usd=1, alert_type="hard_stop", scope="agent", target="researcher"
    )
    wait_until_listening(db_url)
    check_budget(db_url, agent="researcher", now=NOW)
    statements.clear()
    check_budget(db_url, agent="researcher", now=NOW)
    assert sum("budgetspendledger" in sql for sql in statements) == 1
    record(db_url, "0.60", NOW - timedelta(minutes=4), agent_name="researcher")
    assert next_check_refuses(db_url, True, agent="researcher", now=NOW) is not None


def test_a_budget_deleted_elsewhere_stops_refusing(db_url: str) -> None:
    record(db_url, "2", NOW - timedelta(minutes=5), agent_name="researcher")
    made = create_budget(db_url, threshold_usd=1, alert_type="hard_stop")
    assert next_check_refuses(db_url, True, agent="researcher", now=NOW) is not None
    other = create_engine(resolve_url(db_url))
    try:
        with other.begin() as connection:
            connection.execute(BUDGETS.delete().where(BUDGETS.c.id == made.id))
    finally:
        other.dispose()
    assert next_check_refuses(db_url, False, agent="researcher", now=NOW) is None


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_the_listener_ends_with_its_engine(db_url: str) -> None:
    others = _listeners()  # earlier tests' listeners may still be ending: they are not counted
    wait_until_listening(db_url)
    (mine,) = _listeners() - others
    dispose_engine(db_url)
    mine.join(timeout=5)
    assert not mine.is_alive()


def wait_until_listening(url: str) -> None:
    """Check until the process's copy is vouched for (PostgreSQL: the listener is connected)."""
    engine = get_engine(url)
    check_budget(url, agent=str(uuid.uuid4()), now=NOW)
    cache = hard_stops(engine, capabilities(engine))
    deadline = time.monotonic() + NOTIFIED_WITHIN
    while not cache.trusted and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cache.trusted


def _listeners() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name == "aa-budget-listener"}


def _check_in_child(url: str, budget_id: str, done: Any) -> None:
    """In a forked child: a hard stop made elsewhere must refuse this process's next checks."""
    other = create_engine(resolve_url(url))
    with other.begin() as connection:
        connection.execute(
            BUDGETS.insert().values(id=uuid.UUID(budget_id), scope="agent", target="researcher",
                                    threshold_usd=Decimal(1), alert_type="hard_stop")
        )  # fmt: skip
    other.dispose()
    done.put(next_check_refuses(url, True, agent="researcher", now=NOW) is not None)


def test_a_forked_process_does_not_trust_its_parents_copy(db_url: str) -> None:
    """The parent's listener thread does not survive a fork: the child keeps its own copy."""
    record(db_url, "2", NOW - timedelta(minutes=5), agent_name="researcher")
    wait_until_listening(db_url)
    check_budget(db_url, agent="researcher", now=NOW)  # the parent's copy: no hard stop
    context = multiprocessing.get_context("fork")
    done = context.Queue()
    child = context.Process(target=_check_in_child, args=(db_url, str(uuid.uuid4()), done))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert done.get(timeout=5) is True
