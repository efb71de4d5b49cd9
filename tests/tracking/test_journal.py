"""The write-ahead journal, as a kill leaves it: a real process journals hand-made runs and
kills itself with SIGKILL; what `recover` then gives back is compared with those runs. Also what
the journal must never do: show a line it had emptied, write over its parent's file after a
fork, or let a disk problem reach the agent."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aa_notebooks.db.schema import ExecutionStatus
from aa_notebooks.tracking.journal import CUT_OFF_BY_DEATH, Journal, recover
from aa_notebooks.tracking.record import CUT_OFF, ExecutionRecord, start_from_json
from aa_notebooks.tracking.spool import REJECTED_FILE, Spool
from tests.tracking.journaling_agent import STARTED_AT, record, start_row

ROOT = Path(__file__).parents[2]


def killed(directory: Path, script: str, file_size_limit: int | None = None) -> list[str]:
    """Run the journaling agent with `script` until it kills itself; its output lines."""
    command = [sys.executable, "-m", "tests.tracking.journaling_agent", str(directory), script]
    if file_size_limit is not None:
        command.append(str(file_size_limit))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert done.returncode == -signal.SIGKILL, done.stderr
    return done.stdout.splitlines()


def recovered(directory: Path) -> dict[str, ExecutionRecord]:
    """What `recover` writes from the journals in `directory`, by agent name."""
    written: list[ExecutionRecord] = []
    recover(Spool(directory), written.extend, batch_size=2)
    return {record.execution["agent_name"]: record for record in written}


def journals(directory: Path) -> list[Path]:
    return sorted(directory.glob("journal-*"))


def rejected(directory: Path) -> list[dict[str, str]]:
    path = directory / REJECTED_FILE
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def assert_cut_off(found: ExecutionRecord, name: str) -> None:
    """A run that never ended: its start, status failure, error CutOff, tokens and cost unknown,
    completed when its journal was last touched (just now)."""
    execution = found.execution
    assert {key: execution[key] for key in start_row(name)} == start_row(name)
    assert execution["status"] == ExecutionStatus.failure.value
    assert (execution["error_type"], execution["error_message"]) == (CUT_OFF, CUT_OFF_BY_DEATH)
    assert execution["input_tokens"] is None and execution["cost_usd"] is None
    now = datetime.now(UTC)
    assert now - timedelta(minutes=1) <= execution["completed_at"] <= now
    assert execution["execution_time_ms"] == round(
        (execution["completed_at"] - STARTED_AT).total_seconds() * 1000
    )
    assert found.traces == () and found.usages == ()


def test_a_killed_process_loses_no_finished_run_and_its_open_runs_are_cut_off(
    tmp_path: Path,
) -> None:
    assert killed(tmp_path, "start:A finish:A start:B start:C finish:C") == [
        "journaled",
        "queued 2",
    ]
    found = recovered(tmp_path)
    assert sorted(found) == ["agent A", "agent B", "agent C"]
    assert found["agent A"] == record("A") and found["agent C"] == record("C")
    assert_cut_off(found["agent B"], "B")
    assert journals(tmp_path) == [] and rejected(tmp_path) == []


def test_a_line_cut_short_by_the_kill_is_set_aside_and_its_run_cut_off(tmp_path: Path) -> None:
    """A kill in the middle of copying C's record leaves its first bytes, then NUL bytes."""
    killed(tmp_path, "start:A finish:A start:C")
    [path] = journals(tmp_path)
    data = bytearray(path.read_bytes())
    end = data.index(b"\0")
    torn = record("C").to_line()[:100]
    data[end : end + len(torn)] = torn
    path.write_bytes(bytes(data))

    found = recovered(tmp_path)
    assert found["agent A"] == record("A")
    assert_cut_off(found["agent C"], "C")
    assert rejected(tmp_path) == [
        {"error": f"journal {path.name} line 4: truncated", "line": torn.decode()}
    ]


def test_an_emptied_journal_shows_none_of_its_old_lines(tmp_path: Path) -> None:
    """A's lines are handled and the journal emptied; B's start line, shorter than what was there,
    is all a later process finds (not B's line followed by the rest of A's)."""
    killed(tmp_path, "start:A finish:A settle:1 start:B")
    found = recovered(tmp_path)
    assert list(found) == ["agent B"]
    assert_cut_off(found["agent B"], "B")
    assert rejected(tmp_path) == []


def test_a_journal_whose_writer_lives_is_left_alone(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.started(start_row("A"))
    try:
        assert recovered(tmp_path) == {}
        [path] = journals(tmp_path)
        [line] = path.read_bytes().split(b"\0")[0].splitlines()
        assert start_from_json(json.loads(line)["start"]) == start_row("A")
    finally:
        journal.close()
    assert journals(tmp_path) == []


def test_rotation_carries_the_open_runs_and_handled_files_are_emptied(tmp_path: Path) -> None:
    """Files of 8 KiB (each record line is about 1.3 KiB): the journal moves on while O stays
    open; once the writer has handled R1..R8, only O's start is left to find."""
    script = "rotate:8192 start:O " + " ".join(f"start:R{n} finish:R{n}" for n in range(1, 9))
    killed(tmp_path, f"{script} settle:8")
    found = recovered(tmp_path)
    assert list(found) == ["agent O"]
    assert_cut_off(found["agent O"], "O")

    killed(tmp_path, script)  # nothing handled: every record is still there, O once
    found = recovered(tmp_path)
    assert sorted(found) == ["agent O"] + [f"agent R{n}" for n in range(1, 9)]
    assert all(found[f"agent R{n}"] == record(f"R{n}") for n in range(1, 9))
    assert rejected(tmp_path) == []


def test_a_line_larger_than_a_journal_file_is_kept_whole(tmp_path: Path) -> None:
    killed(tmp_path, "start:A finish:A big start:B")
    found = recovered(tmp_path)
    assert found["agent BIG"] == record("BIG")
    assert len(found["agent BIG"].traces[0]["content"]) == 3 * 1024 * 1024
    assert found["agent A"] == record("A")
    assert_cut_off(found["agent B"], "B")


def test_a_disk_that_refuses_the_journal_stops_journaling_not_the_agent(tmp_path: Path) -> None:
    """Files may not grow past 64 KiB in that process (as on a full disk): the journal cannot
    reserve its file, says so once, and every run is still handed on to be written."""
    output = killed(tmp_path, "start:A finish:A start:B finish:B", file_size_limit=64 * 1024)
    assert output[0].startswith("1 errors: cannot write the recording journal in")
    assert "File too large" in output[0]
    assert output[1] == "queued 2"


def test_a_journal_directory_that_cannot_be_made_stops_journaling(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "not a directory"
    blocked.write_text("")
    journal = Journal(blocked / "spool")
    queued: list[object] = []
    with caplog.at_level(logging.ERROR):
        journal.started(start_row("A"))
        journal.finished(record("A"), lambda: queued.append("A"))
        journal.finished(record("B"), lambda: queued.append("B"))
    assert queued == ["A", "B"]
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        f"cannot write the recording journal in {blocked / 'spool'}"
    ]


def test_a_forked_child_never_writes_over_its_parents_journal(tmp_path: Path) -> None:
    """The child's runs go to files of its own, and a new file of the child (here for a line
    too big for the first) carries none of the parent's open runs: recovered after the child
    ends, they would be cut off while the parent still runs them."""
    journal = Journal(tmp_path)
    journal.started(start_row("parent"))
    [parents] = journals(tmp_path)
    before = parents.read_bytes()
    child = os.fork()
    if child == 0:  # the child notes runs of its own, then ends without closing its journal
        try:
            journal.started(start_row("child"))
            journal.finished(record("child"), lambda: None)
            journal.started(start_row("BIG"))
            journal.finished(record("BIG"), lambda: None)
        finally:
            os._exit(0)
    os.waitpid(child, 0)
    try:
        assert parents.read_bytes() == before
        found = recovered(tmp_path)  # the child's journals: the parent's is still held
        assert found == {"agent child": record("child"), "agent BIG": record("BIG")}
        assert journals(tmp_path) == [parents]
    finally:
        journal.close()
