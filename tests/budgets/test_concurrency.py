"""Many writers against one hard stop: no execution whose check started after the commit that
took the spend past the threshold is allowed, and every recorded execution is there.

Each worker loops: note the time, check_budget, "work", record_execution (which returns after its
commit), note the time. Sorting the returns, the first moment at which the returned executions
alone reach the threshold is `crossed`: by then the crossing commit has certainly happened, so
every check that started later must have been refused. Threads share the engine's pool, so on
PostgreSQL each works on its own connection; on SQLite they contend for the write lock.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from aa_notebooks.budgets import (
    apply_spend,
    budget_status,
    check_budget,
    create_budget,
    record_execution,
)
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.records import AgentExecutionCreate
from aa_notebooks.db.schema import AgentExecution
from aa_notebooks.errors import BudgetExceededError

WORKERS = 8
COST = Decimal("0.50")
THRESHOLD = Decimal("12.00")  # crossed by the 24th execution
REFUSALS_PER_WORKER = 20


@dataclass
class Log:
    """What the workers saw, with monotonic nanosecond times."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    allowed: list[tuple[int, uuid.UUID]] = field(default_factory=list)
    committed: list[int] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)


def _worker(url: str, log: Log, start: threading.Barrier, seed: int) -> None:
    rng = random.Random(seed)
    start.wait()
    refusals = 0
    try:
        while refusals < REFUSALS_PER_WORKER:
            checked = time.monotonic_ns()
            try:
                check_budget(url, agent="crawler")
            except BudgetExceededError:
                with log.lock:
                    log.refused.append(checked)
                refusals += 1
                continue
            execution_id = uuid.uuid4()
            with log.lock:
                log.allowed.append((checked, execution_id))
            time.sleep(rng.uniform(0, 0.01))  # the agent's work
            execution = AgentExecutionCreate(id=execution_id, status="success",
                                             agent_name="crawler", cost_usd=COST)  # fmt: skip
            record_execution(url, execution)
            returned = time.monotonic_ns()
            with log.lock:
                log.committed.append(returned)
    except BaseException as exc:  # reported by the test, not lost in the thread
        log.errors.append(exc)


def test_no_execution_starts_after_the_crossing_commit(db_url: str) -> None:
    create_budget(db_url, name="crawler cap", scope="agent", target="crawler",
                  threshold_usd=THRESHOLD, alert_type="hard_stop")  # fmt: skip
    check_budget(db_url, agent="crawler")  # fills the ledger before the race
    log, start = Log(), threading.Barrier(WORKERS)
    threads = [
        threading.Thread(target=_worker, args=(db_url, log, start, seed)) for seed in range(WORKERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not log.errors, log.errors
    assert not any(thread.is_alive() for thread in threads)

    needed = int(THRESHOLD / COST)
    crossed = sorted(log.committed)[needed - 1]
    late = [checked for checked, _ in log.allowed if checked > crossed]
    assert late == [], f"{len(late)} executions started after the crossing commit"
    assert sum(1 for checked in log.refused if checked > crossed) >= WORKERS
    in_flight = len(log.allowed) - needed
    assert 0 <= in_flight < WORKERS  # only executions already checked could overshoot

    with get_engine(db_url).connect() as connection:
        stored = set(connection.execute(select(AgentExecution.id)).scalars())
    assert stored == {execution_id for _, execution_id in log.allowed}  # nothing dropped
    [status] = budget_status(db_url)
    assert status.spend_usd == COST * len(log.allowed) >= THRESHOLD
    assert status.blocking


def test_checks_never_wait_for_writers_and_see_each_commit(db_url: str) -> None:
    """A writer holds its transaction open (SQLite's write lock; on PostgreSQL the budget's row
    lock); a second writer queues behind it; checks meanwhile neither wait nor count uncommitted
    spend, and refuse as soon as the crossing commit is done."""
    create_budget(db_url, name="cap", threshold_usd=2, alert_type="hard_stop")
    check_budget(db_url)
    engine = get_engine(db_url)
    first = AgentExecutionCreate(status="success", cost_usd=1).model_dump(exclude_none=True)
    first["started_at"] = datetime.now(UTC)
    with engine.connect() as connection:
        transaction = connection.begin()
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        connection.execute(AgentExecution.__table__.insert().values(**first))
        apply_spend(connection, [first])
        second = threading.Thread(
            target=record_execution,
            args=(db_url, AgentExecutionCreate(status="success", cost_usd=1)),
        )
        second.start()
        time.sleep(0.2)
        assert second.is_alive()  # queued behind the first writer
        started = time.monotonic()
        check_budget(db_url)  # $2 in flight, $0 committed: allowed, without waiting
        assert time.monotonic() - started < 0.5
        transaction.commit()
    second.join(timeout=30)
    with pytest.raises(BudgetExceededError, match=r"\$2.00 spent of \$2.00"):
        check_budget(db_url)
