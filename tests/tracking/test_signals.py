"""A process that is stopped mid-batch loses no run: SIGTERM and SIGINT flush the writer before
it exits, runs still going are recorded as cut off, and after SIGKILL the next process recovers
the journal. Real subprocesses; the test holds the database locked so that the finished runs'
batch is in flight when the signal comes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from aa_notebooks.budgets import create_budget
from aa_notebooks.db.engine import get_engine
from aa_notebooks.tracking.writer import BatchWriter
from tests.notify.http_server import http_server
from tests.tracking.conftest import counts, executions

pytestmark = pytest.mark.slow

FINISHED = 40
OPEN = 3
ROOT = Path(__file__).parents[2]


@contextmanager
def writes_held(url: str) -> Iterator[Callable[[], None]]:
    """Hold the database's write lock (SQLite) or an exclusive lock on agentexecutions
    (PostgreSQL) until the yielded function releases it."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        held = sqlite3.connect(parsed.database, isolation_level=None)
        held.execute("BEGIN IMMEDIATE")
        release = held.close
    else:
        engine = create_engine(parsed.set(drivername="postgresql+psycopg"))
        connection = engine.connect()
        connection.exec_driver_sql("LOCK TABLE agentexecutions IN EXCLUSIVE MODE")

        def release() -> None:
            connection.close()
            engine.dispose()

    try:
        yield release
    finally:
        release()


def start_agent(url: str, spool: Path) -> subprocess.Popen[str]:
    """The agent process, once its first run is committed (so its tables are known)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "tests.tracking.signalled_agent", url, str(spool),
               str(FINISHED), str(OPEN)]  # fmt: skip
    agent = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             env=env, cwd=ROOT)  # fmt: skip
    assert agent.stdout is not None and agent.stdout.readline() == "warm\n"
    return agent


def go(agent: subprocess.Popen[str]) -> None:
    """Let the agent finish its runs and open the others; return once it has."""
    assert agent.stdin is not None and agent.stdout is not None
    agent.stdin.write("go\n")
    agent.stdin.flush()
    assert agent.stdout.readline() == "ready\n"
    time.sleep(0.3)  # the writer has taken the batch and waits on the lock


def outcomes(url: str) -> dict[str, list[tuple[str, str | None]]]:
    """Per agent name, the (status, error type) of its executions."""
    found: dict[str, list[tuple[str, str | None]]] = {}
    for row in executions(url):
        found.setdefault(row["agent_name"], []).append((row["status"].value, row["error_type"]))
    return found


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_flushes_and_cuts_off_the_runs_still_going(
    db_url: str, tmp_path: Path, signum: signal.Signals
) -> None:
    agent = start_agent(db_url, tmp_path / "spool")
    with writes_held(db_url) as release:
        go(agent)
        assert counts(db_url) == (1, 0, 1)
        agent.send_signal(signum)
        time.sleep(0.5)  # the handler is flushing, held by the lock
        release()
        agent.wait(timeout=60)
    get_engine(db_url).dispose()
    found = outcomes(db_url)
    assert found.pop("warm-up") == [("success", None)]
    assert found.pop("finished") == [("success", None)] * FINISHED
    if signum == signal.SIGTERM:  # the default action ends the process: every run is cut off
        assert agent.returncode == -signal.SIGTERM
        assert found == {name: [("failure", "CutOff")] for name in
                         ["open-0", "open-1", "open-main"]}  # fmt: skip
        why = {row["error_message"] for row in executions(db_url) if row["error_type"]}
        assert why == {"the process was stopped by SIGTERM while the run was going"}
    else:  # KeyboardInterrupt unwinds the main thread's run; the daemon threads' are cut off
        assert found == {
            "open-0": [("failure", "CutOff")],
            "open-1": [("failure", "CutOff")],
            "open-main": [("failure", "KeyboardInterrupt")],
        }
    cut_off_steps = 2  # the open threads' "waiting" steps are recorded with them
    assert counts(db_url) == (1 + FINISHED + OPEN, FINISHED + cut_off_steps, 1 + FINISHED)


def test_after_sigkill_the_next_process_recovers_every_run(db_url: str, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    agent = start_agent(db_url, spool)
    with writes_held(db_url):
        go(agent)
        agent.kill()
        agent.wait(timeout=30)
        killed_at = datetime.now(UTC)
    get_engine(db_url).dispose()
    assert counts(db_url) == (1, 0, 1)  # the batch never committed

    successor = BatchWriter(db_url, spool_dir=spool)  # any later writer for the database
    try:
        assert successor.flush(timeout=60)
    finally:
        successor.close()
    found = outcomes(db_url)
    assert found.pop("finished") == [("success", None)] * FINISHED
    assert found == {
        "warm-up": [("success", None)],
        **{name: [("failure", "CutOff")] for name in ["open-0", "open-1", "open-main"]},
    }
    for row in executions(db_url):
        if row["error_type"] == "CutOff":
            assert row["started_at"] <= row["completed_at"] <= killed_at
            assert row["input_tokens"] is None and row["cost_usd"] is None  # unknown, not 0
            assert "found by a later process" in row["error_message"]
    assert counts(db_url) == (1 + FINISHED + OPEN, FINISHED, 1 + FINISHED)
    assert list(successor.spool.directory.glob("journal-*")) == []


def test_sigterm_delivers_the_alerts_its_flush_made_due(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A $0.01 warning budget: the warm-up run ($0.006) crosses nothing, the finished runs'
    batch, written by SIGTERM's flush, crosses 100%. Its alert is delivered from the background
    thread, which the handler waits for before the process ends."""
    create_budget(db_url, name="cap", threshold_usd=Decimal("0.01"), alert_type="warning",
                  alert_at_percentage=100, period_days=1)  # fmt: skip
    with http_server() as server:
        monkeypatch.setenv("AA_ALERT_WEBHOOKS", "json:" + server.at("/hook"))
        agent = start_agent(db_url, tmp_path / "spool")
        with writes_held(db_url) as release:
            go(agent)
            agent.send_signal(signal.SIGTERM)
            time.sleep(0.5)  # the handler is flushing, held by the lock
            release()
            agent.wait(timeout=60)
        assert agent.returncode == -signal.SIGTERM
        assert [(r.path, r.json()["level"]) for r in server.received] == [("/hook", "exceeded")]
