"""Runs in flight: marked while they go, cleared with their execution, lost when their process
dies, then recorded as failures (`tracking.in_flight`, read by `Analytics.running`)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from aa_notebooks.analytics import connect
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import ExecutionStatus
from aa_notebooks.tracking import Tracker
from aa_notebooks.tracking.journal import CUT_OFF_BY_DEATH
from aa_notebooks.tracking.record import CUT_OFF
from tests.tracking.conftest import executions

ROOT = Path(__file__).parents[2]


def eventually(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Poll `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.05)
    raise AssertionError(f"not seen within {timeout} s")


def running_ids(url: str) -> list[uuid.UUID]:
    return [uuid.UUID(value) for value in connect(url).running()["id"]]


def test_a_long_run_is_marked_renewed_and_cleared_with_its_execution(
    db_url: str, spool_dir: Path
) -> None:
    tracker = Tracker(db_url, spool_dir=spool_dir, check_budgets=False, heartbeat_every_s=0.2)
    release, started = threading.Event(), threading.Event()
    ids: list[uuid.UUID] = []

    def agent() -> None:
        with tracker.execution(agent_name="slow", query="a long question") as run:
            ids.append(run.id)
            started.set()
            release.wait(30)

    thread = threading.Thread(target=agent)
    thread.start()
    try:
        started.wait(5)
        with tracker.execution(agent_name="quick"):  # over at once: never marked
            pass
        first = eventually(lambda: connect(db_url).running().to_dict("records"))
        shown = [
            (row["id"], row["agent_name"], row["query_preview"], row["state"]) for row in first
        ]
        assert shown == [(str(ids[0]), "slow", "a long question", "running")]
        assert first[0]["pid"] == os.getpid()
        renewed = eventually(
            lambda: [
                r
                for r in connect(db_url).running().to_dict("records")
                if r["heartbeat_at"] > first[0]["heartbeat_at"]
            ]
        )
        assert [row["id"] for row in renewed] == [str(ids[0])]
    finally:
        release.set()
        thread.join()
    tracker.flush()
    assert running_ids(db_url) == []
    stored = {row["agent_name"]: row for row in executions(db_url)}
    assert sorted(stored) == ["quick", "slow"]
    assert stored["slow"]["id"] == ids[0]
    assert stored["slow"]["status"] == ExecutionStatus.success
    tracker.close()


def _killed_run(url: str, spool_dir: Path) -> uuid.UUID:
    """Start the stalled agent in another process; it is killed with its run going."""
    command = [sys.executable, "-m", "tests.tracking.stalled_agent", url, str(spool_dir)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert done.returncode == -9, done.stderr
    return uuid.UUID(done.stdout.strip())


def test_a_killed_process_run_shows_as_lost_then_is_recorded_as_failed(
    db_url: str, tmp_path: Path
) -> None:
    doomed = _killed_run(db_url, tmp_path / "dead-spool")
    rows = connect(db_url).running().to_dict("records")
    assert [row["id"] for row in rows] == [str(doomed)]
    lost = eventually(
        lambda: [r for r in connect(db_url).running().to_dict("records") if r["state"] == "lost"]
    )
    assert [row["agent_name"] for row in lost] == ["doomed"]
    summary = connect(db_url).running(by_agent=True).to_dict("records")
    assert [(row["agent_name"], row["running"], row["lost"]) for row in summary] == [
        ("doomed", 0, 1)
    ]
    assert executions(db_url) == []  # lost, not yet recorded

    # A live tracker elsewhere (its own spool: the dead one's journal is not its to recover)
    # records the run once its heartbeat is 1 s old.
    watcher = Tracker(
        db_url, spool_dir=tmp_path / "live-spool", check_budgets=False,
        heartbeat_every_s=0.2, record_lost_after_s=1.0,
    )  # fmt: skip
    with watcher.execution(agent_name="watcher"):
        pass
    stored = eventually(lambda: [r for r in executions(db_url) if r["id"] == doomed])
    watcher.close()
    assert len(stored) == 1
    assert stored[0]["status"] == ExecutionStatus.failure
    assert stored[0]["error_type"] == CUT_OFF
    assert stored[0]["error_message"].startswith("lost: host ")
    assert stored[0]["query_preview"] == "never ends"
    beat, started = lost[0]["heartbeat_at"], lost[0]["started_at"]
    # Its duration runs to its last heartbeat; it completes when found, 1 s or more after that,
    # so `tail` and live dashboards, which follow completions, see it arrive.
    assert stored[0]["execution_time_ms"] == round((beat - started).total_seconds() * 1000)
    assert stored[0]["completed_at"] >= beat + timedelta(seconds=1)
    waited = round((stored[0]["completed_at"] - beat).total_seconds())  # not the 1 s setting
    assert stored[0]["error_message"].endswith(f"recorded as failed {waited} s later")
    assert running_ids(db_url) == []
    assert sorted(row["agent_name"] for row in executions(db_url)) == ["doomed", "watcher"]


def test_a_run_recovered_from_its_journal_leaves_no_running_row(
    db_url: str, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    doomed = _killed_run(db_url, spool)
    assert running_ids(db_url) == [doomed]
    heir = Tracker(db_url, spool_dir=spool, check_budgets=False, heartbeat_every_s=0.2)
    with heir.execution(agent_name="heir"):
        pass
    heir.flush()
    stored = eventually(lambda: [r for r in executions(db_url) if r["id"] == doomed])
    heir.close()
    assert [(r["error_type"], r["error_message"]) for r in stored] == [(CUT_OFF, CUT_OFF_BY_DEATH)]
    assert running_ids(db_url) == []


def test_a_database_without_the_table_records_as_before(db_url: str, spool_dir: Path) -> None:
    tracker = Tracker(db_url, spool_dir=spool_dir, check_budgets=False, heartbeat_every_s=0.2)
    with tracker.execution(agent_name="first"):
        pass
    tracker.flush()
    with get_engine(db_url).begin() as connection:
        connection.execute(text("DROP TABLE runningexecutions"))
    fresh = Tracker(db_url, spool_dir=spool_dir, check_budgets=False, heartbeat_every_s=0.2)
    with fresh.execution(agent_name="second"):
        time.sleep(1.5)  # long enough to be marked, were there a table
    fresh.close()
    tracker.close()
    assert sorted(row["agent_name"] for row in executions(db_url)) == ["first", "second"]
    assert connect(db_url).running().empty
