"""`aa-notebooks tail` as a real process: executions recorded from a background thread and from
another process while it runs each come out exactly once, filters hold, and SIGINT ends it with
exit 0 and no traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from aa_notebooks.tracking import Tracker

COMMAND = str(Path(sys.executable).with_name("aa-notebooks"))
RECORD_IN_ANOTHER_PROCESS = """
import sys
from aa_notebooks.tracking import Tracker
tracker = Tracker(sys.argv[1], check_budgets=False, spool_dir=sys.argv[2])
for _ in range(3):
    with tracker.execution(agent_name="elsewhere", query="from another process") as run:
        print(run.id, flush=True)
tracker.close()
"""


def _record(url: str, spool: Path, agent: str, times: int, ids: list[str]) -> None:
    tracker = Tracker(url, check_budgets=False, spool_dir=spool)
    try:
        for _ in range(times):
            with tracker.execution(agent_name=agent, query="from a thread") as run:
                ids.append(str(run.id))
    finally:
        tracker.close()


def _read_lines(process: subprocess.Popen[str], wanted: int, timeout: float) -> list[str]:
    """Lines from the process's stdout until `wanted` arrived or `timeout` passed."""
    lines: list[str] = []
    done = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if len(lines) >= wanted:
                done.set()

    threading.Thread(target=pump, daemon=True).start()
    done.wait(timeout)
    return lines


def test_runs_from_a_thread_and_another_process_appear_once(db_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "AA_DATABASE_URL": db_url}
    # --since: on a loaded machine the command may take longer to start than the recording
    # below, whose runs must still each show once (the database is this test's alone).
    tail = subprocess.Popen(
        [COMMAND, "tail", "--format", "json", "--every", "0.2", "--since", "10m"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        time.sleep(1.5)  # usually started and polling by now
        from_thread: list[str] = []
        thread = threading.Thread(
            target=_record, args=(db_url, tmp_path / "a", "here", 4, from_thread)
        )
        thread.start()
        other = subprocess.run(
            [sys.executable, "-c", RECORD_IN_ANOTHER_PROCESS, db_url, str(tmp_path / "b")],
            env=env, capture_output=True, text=True, check=True, timeout=120,
        )  # fmt: skip
        thread.join()
        from_process = other.stdout.split()
        lines = _read_lines(tail, 7, timeout=30)
        time.sleep(1.0)  # two more polls: nothing may come twice
        tail.send_signal(signal.SIGINT)
        out, err = tail.communicate(timeout=30)
    finally:
        if tail.poll() is None:
            tail.kill()
    records = [json.loads(line) for line in [*lines, *out.splitlines()] if line.strip()]
    assert sorted(record["id"] for record in records) == sorted(from_thread + from_process)
    assert {r["agent_name"] for r in records} == {"here", "elsewhere"}
    assert tail.returncode == 0
    assert "Traceback" not in err


def test_filters_and_since(db_url: str, tmp_path: Path) -> None:
    """Runs recorded before tail starts show with --since; --agent keeps one agent's."""
    ids: list[str] = []
    _record(db_url, tmp_path / "a", "kept", 2, ids)
    _record(db_url, tmp_path / "b", "dropped", 2, [])
    env = {**os.environ, "AA_DATABASE_URL": db_url}
    tail = subprocess.Popen(
        [COMMAND, "tail", "--format", "json", "--every", "0.2", "--since", "1h", "--agent", "kept"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        lines = _read_lines(tail, 2, timeout=30)
        time.sleep(0.6)
        tail.send_signal(signal.SIGINT)
        out, _ = tail.communicate(timeout=30)
    finally:
        if tail.poll() is None:
            tail.kill()
    records = [json.loads(line) for line in [*lines, *out.splitlines()] if line.strip()]
    assert sorted(r["id"] for r in records) == sorted(ids)
    assert tail.returncode == 0
    # as `executions --format json` writes them: money a number, times ISO 8601 with its "T"
    # (they were str(): "2026-12-07 18:10:41.808116+00:00", and money "0.000000")
    assert {(r["cost_usd"], r["status"]) for r in records} == {(0.0, "success")}
    for record in records:
        completed = datetime.fromisoformat(record["completed_at"])
        assert record["completed_at"] == completed.isoformat() and completed.tzinfo is not None


def _tail_once(db_url: str, *options: str) -> tuple[int, str]:
    """`tail` with options it refuses: its exit code and error output."""
    done = subprocess.run(
        [COMMAND, "--db", db_url, "tail", *options], capture_output=True, text=True, timeout=60
    )
    return done.returncode, done.stderr


def test_a_since_it_cannot_read_says_every_form_it_takes(db_url: str) -> None:
    assert _tail_once(db_url, "--since", "10minutes") == (
        2,
        "aa-notebooks: error: --since takes minutes (10m), a period (2h, 1d, 1w) or an ISO time "
        "(2026-12-01T08:00:00, UTC if no offset); got '10minutes'\n",
    )


def test_a_since_before_1900_is_refused_with_the_range(db_url: str) -> None:
    """`--since 0001-01-01` was a bare OverflowError (the overlap taken off the first moment)."""
    assert _tail_once(db_url, "--since", "0001-01-01") == (
        2,
        "aa-notebooks: error: --since must be from 1900-01-01 to 2999-12-31; got 0001-01-01\n",
    )


def test_a_status_it_does_not_know_lists_those_it_does(db_url: str) -> None:
    """It said "invalid parse_status value: 'bogus'", naming a function of the kit."""
    assert _tail_once(db_url, "--status", "bogus") == (
        2,
        "aa-notebooks: error: --status: 'bogus' is not one of success, failure, timeout (see "
        "`aa-notebooks tail --help`)\n",
    )


@pytest.mark.parametrize("every", ["nan", "inf", "1e-9", "0", "-1", "3601"])
def test_a_poll_interval_out_of_range_is_refused_with_the_range(db_url: str, every: str) -> None:
    """`nan` and `inf` were unexpected errors (ValueError, OverflowError); `1e-9` polled the
    database without pause."""
    shown = f"{float(every):g}"
    assert _tail_once(db_url, "--every", every) == (
        2,
        f"aa-notebooks: error: --every must be from 0.1 to 3600 seconds, e.g. --every 1; "
        f"got {shown}\n",
    )
