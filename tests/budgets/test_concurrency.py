"""Many writers against one hard stop: no execution whose check started after the commit that
took the spend past the threshold is allowed, and every recorded execution is there. Through the
default Tracker (a batched writer), the runs it holds uncommitted count too: threads stop within
one run each, and processes within what the others have not committed yet.

Each worker loops: note the time, check_budget, "work", record_execution (which returns after its
commit), note the time. Sorting the returns, the first moment at which the returned executions
alone reach the threshold is `crossed`: by then the crossing commit has certainly happened, so
every check that started later must have been refused. Threads share the engine's pool, so on
PostgreSQL each works on its own connection; on SQLite they contend for the write lock.
"""

from __future__ import annotations

import json
import logging
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

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
from aa_notebooks.tracking import Tracker

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


# --- The default Tracker under a race: its batched writer's backlog counts as spent.
# Threshold $1.00, $0.05 a run (gpt-4o, 20,000 input tokens), 8 workers, instant runs.
RACE_THRESHOLD = Decimal("1.00")
RACE_COST_TOKENS = 20_000  # gpt-4o at $2.50 per 1M input tokens: $0.050000
RACE_NEEDED = 20  # runs that reach the threshold
RACE_REFUSALS = 3


def race(tracker: Any, start: Any) -> dict[str, list[Any]]:
    """One worker: run until refused RACE_REFUSALS times. Returns the monotonic times of its
    checks (allowed or not) and of each run's return (its record then handed to the writer)."""
    seen: dict[str, list[Any]] = {"allowed": [], "refused": [], "submitted": []}
    start.wait()
    while len(seen["refused"]) < RACE_REFUSALS:
        checked = time.monotonic_ns()
        try:
            with tracker.execution(agent_name="crawler", model="gpt-4o") as run:
                run.tokens("main_agent", "gpt-4o", RACE_COST_TOKENS, 0)
        except BudgetExceededError:
            seen["refused"].append(checked)
            continue
        seen["allowed"].append(checked)
        seen["submitted"].append((time.monotonic_ns(), str(run.id)))
    return seen


def assert_no_check_passed_what_it_could_see(
    workers: list[dict[str, list[Any]]], commits: list[tuple[int, list[str]]]
) -> int:
    """Every allowed check saw fewer than RACE_NEEDED runs: its own process's runs returned
    before it, and every process's runs committed before it. Returns the runs allowed."""
    for own in workers:
        for checked in own["allowed"]:
            visible = {run for at, run in own["submitted"] if at < checked}
            visible |= {run for at, runs in commits if at < checked for run in runs}
            assert len(visible) < RACE_NEEDED, f"allowed with {len(visible)} runs visible"
    return sum(len(own["allowed"]) for own in workers)


class CommitLog(logging.Handler):
    """When each batch the writer committed was committed (its debug line), and its runs."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.commits: list[tuple[int, list[str]]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if hasattr(record, "execution_ids"):
            self.commits.append((time.monotonic_ns(), record.execution_ids))


def stored_spend(url: str) -> tuple[int, Decimal]:
    with get_engine(url).connect() as connection:
        count = connection.execute(select(func.count(AgentExecution.id))).scalar_one()
        total = connection.execute(select(func.sum(AgentExecution.cost_usd))).scalar_one()
    return count, Decimal(total)


def test_threads_stop_within_one_run_each(db_url: str, tmp_path: Path) -> None:
    """8 threads, one Tracker: once 20 runs have returned, no check allows another; the
    overshoot is at most the 7 other runs already past their check."""
    create_budget(db_url, name="race cap", scope="agent", target="crawler",
                  threshold_usd=RACE_THRESHOLD, alert_type="hard_stop", period_days=1)  # fmt: skip
    tracker = Tracker(db_url, spool_dir=tmp_path / "spool")
    start = threading.Barrier(WORKERS)
    results: list[dict[str, list[Any]]] = []
    threads = [
        threading.Thread(target=lambda: results.append(race(tracker, start)))
        for _ in range(WORKERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    tracker.close()
    assert len(results) == WORKERS
    allowed = assert_no_check_passed_what_it_could_see(results, [])
    assert RACE_NEEDED <= allowed <= RACE_NEEDED + WORKERS - 1
    assert stored_spend(db_url) == (allowed, Decimal("0.05") * allowed)  # nothing lost


def test_processes_stop_within_what_they_can_see(db_url: str, tmp_path: Path) -> None:
    """8 processes, a Tracker each: a check counts its own backlog and what every process
    committed; what another process has not committed yet (at most its batch window) is all
    that can overshoot."""
    create_budget(db_url, name="race cap", scope="agent", target="crawler",
                  threshold_usd=RACE_THRESHOLD, alert_type="hard_stop", period_days=1)  # fmt: skip
    root = Path(__file__).parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    command = [sys.executable, "-m", "tests.budgets.test_concurrency", db_url, str(tmp_path)]
    workers = [subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True, env=env, cwd=root) for _ in range(WORKERS)]  # fmt: skip
    for worker in workers:
        assert worker.stdout is not None and worker.stdout.readline() == "ready\n"
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    reports = []
    for worker in workers:
        out, _ = worker.communicate(timeout=180)
        assert worker.returncode == 0
        reports.append(json.loads(out))
    commits = [tuple(commit) for report in reports for commit in report["commits"]]
    allowed = assert_no_check_passed_what_it_could_see([r["seen"] for r in reports], commits)
    assert allowed >= RACE_NEEDED
    assert stored_spend(db_url) == (allowed, Decimal("0.05") * allowed)


def _race_process(url: str, spool: str) -> None:
    """A worker process of the test above: `python -m tests.budgets.test_concurrency URL DIR`."""
    commit_log = CommitLog()
    writer_log = logging.getLogger("aa_notebooks.tracking.writer")
    writer_log.addHandler(commit_log)
    writer_log.setLevel(logging.DEBUG)
    tracker = Tracker(url, spool_dir=spool)
    tracker.writer.flush()
    print("ready", flush=True)
    sys.stdin.readline()
    seen = race(tracker, threading.Barrier(1))
    tracker.close()
    print(json.dumps({"seen": seen, "commits": commit_log.commits}))


if __name__ == "__main__":
    _race_process(sys.argv[1], sys.argv[2])
