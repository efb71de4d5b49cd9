"""Live mode: runs recorded by a thread and by another process appear within two ticks, once.

The dashboard shows the hand-made dataset's 7d window (E1-E5: five executions, $1.170000) on the
dataset's fixed clock; the runs recorded here complete at the machine's time, after the window's
end: a period's live view runs on to them. Every run below is hand counted.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell
from sqlalchemy import text

from aa_notebooks.analytics import Analytics, connect
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.url import resolve_url
from aa_notebooks.errors import InvalidInputError
from aa_notebooks.tracking import Tracker
from aa_notebooks.ui import Dashboard

WAIT_SECONDS = 60
AGENT_SCRIPT = """
import sys
from aa_notebooks.tracking import Tracker
tracker = Tracker(sys.argv[1], spool_dir=sys.argv[2], check_budgets=False)
for n in range(2):
    with tracker.execution(agent_name="other-process", model="gpt-4o", query=f"p{n}") as run:
        run.tokens("main_agent", "gpt-4o", 100, 10)
assert tracker.flush(timeout=30)
"""


def _until(condition: Callable[[], bool], what: str) -> None:
    """Wait (bounded) until `condition` holds; the test then asserts exact values."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what}")
        time.sleep(0.05)


def _record(tracker: Tracker, agent: str, count: int) -> None:
    for n in range(count):
        with tracker.execution(
            agent_name=agent, model="gpt-4o", query=f"<b>{agent} {n}</b>"
        ) as run:
            run.tokens("main_agent", "gpt-4o", 100, 10)
    assert tracker.flush(timeout=30)


def _grid_ids(board: Dashboard) -> list[str]:
    with board.live.reading:  # between ticks: a tick updates one panel after another
        return [row["id"] for row in board.recent.rows(0, 100)]


@pytest.fixture
def live_board(analytics: Analytics, tmp_path: Path) -> Iterator[Dashboard]:
    board = Dashboard(analytics, live=True, every=1.0, export_dir=tmp_path)
    yield board
    board.close()


def test_runs_from_a_thread_and_a_process_appear_once_within_two_ticks(
    live_board: Dashboard, url: str, tmp_path: Path
) -> None:
    board = live_board
    assert board.live.on and board.controls.live.value
    assert board.kpis["Total Executions"] == "5"
    tracker = Tracker(url, spool_dir=tmp_path / "spool", check_budgets=False)
    recorder = threading.Thread(target=_record, args=(tracker, "thread-agent", 3))
    recorder.start()
    recorder.join()
    ticks = board.live.ticks
    _until(lambda: board.kpis["Total Executions"] == "8", "the thread's three runs")
    assert board.live.ticks - ticks <= 2
    subprocess.run(
        [sys.executable, "-c", AGENT_SCRIPT, url, str(tmp_path / "spool2")], check=True,
        timeout=120,
    )  # fmt: skip
    ticks = board.live.ticks
    _until(lambda: board.kpis["Total Executions"] == "10", "the other process's two runs")
    assert board.live.ticks - ticks <= 2
    ids = _grid_ids(board)
    assert len(ids) == len(set(ids)) == 10  # nothing twice
    assert board.recent.total == 10
    rows = board.recent.rows(0, 100)
    new = [row for row in rows if row.get("new")]
    assert len(new) == 5 and ids[:5] == [row["id"] for row in new]  # new ones at the top
    agents = sorted(row["cells"][2] for row in new)
    assert agents == ["other-process"] * 2 + ["thread-agent"] * 3
    assert board.kpis["Active Agents"] == "5"  # planner, researcher, IMG + two new ones
    assert board.live.status.startswith("Live · updated ")
    for _ in range(2):  # further ticks add nothing
        ticks = board.live.ticks
        _until(lambda: board.live.ticks > ticks, "another tick")  # noqa: B023
    assert board.kpis["Total Executions"] == "10"
    assert len(_grid_ids(board)) == 10


def test_kernel_busy_pauses_ticks(live_board: Dashboard, url: str, tmp_path: Path) -> None:
    shell = InteractiveShell.instance()
    board = live_board
    board.set_live(False)
    board.set_live(True)  # now watching this shell's cells
    tracker = Tracker(url, spool_dir=tmp_path / "spool", check_budgets=False)
    shell.user_ns.update(board=board, tracker=tracker, record=_record, time=time)
    shell.run_cell(
        "with board.live.reading:  # a tick already under way when the cell began ends first\n"
        "    ticks = board.live.ticks\n"
        "status = board.live.status\n"
        "record(tracker, 'during-cell', 1)\n"
        "time.sleep(3.5)\n"
        "after = (board.live.ticks, board.kpis['Total Executions'])\n",
        store_history=False,
    ).raise_error()
    assert shell.user_ns["status"] == "Live · paused"
    assert shell.user_ns["after"] == (shell.user_ns["ticks"], "5")  # no tick while busy
    _until(lambda: board.kpis["Total Executions"] == "6", "the run once the cell ended")
    board.close()
    assert not board.live.on


def test_a_tick_that_waited_while_a_cell_began_does_nothing(
    live_board: Dashboard, url: str, tmp_path: Path
) -> None:
    board = live_board
    board.set_live(False)  # no thread of its own: this test is the one tick
    tracker = Tracker(url, spool_dir=tmp_path / "spool", check_budgets=False)
    _record(tracker, "during-cell", 1)
    ticks, results = board.live.ticks, []
    with board.live.reading:  # the tick passed the paused check and waits for the lock
        waiting = threading.Thread(target=lambda: results.append(board.live.tick()))
        waiting.start()
        board.live.paused = True  # meanwhile a cell begins
    waiting.join(timeout=30)
    assert results == [None] and board.live.ticks == ticks
    assert board.kpis["Total Executions"] == "5"


def test_toggle_and_full_refresh_reset_the_mark(
    dashboard: Dashboard, url: str, tmp_path: Path
) -> None:
    board = dashboard
    assert not board.live.on
    board.controls.live.value = True  # the Live toggle
    assert board.live.on
    tracker = Tracker(url, spool_dir=tmp_path / "spool", check_budgets=False)
    _record(tracker, "toggled", 2)
    _until(lambda: board.kpis["Total Executions"] == "7", "two runs")
    board.set_period("30d")  # a full refresh: E1-E5 and E8, plus the two runs; new marks clear
    assert board.kpis["Total Executions"] == "8"
    assert board.recent.new_ids == ()
    ticks = board.live.ticks
    _until(lambda: board.live.ticks >= ticks + 2, "two more ticks")
    assert board.kpis["Total Executions"] == "8"  # not counted again after the reset
    board.controls.live.value = False
    assert not board.live.on


def test_every_is_checked(analytics: Analytics) -> None:
    for bad in (0.5, 0, -1, float("nan"), "5s", True):
        with pytest.raises(InvalidInputError, match="every must be a number of seconds"):
            Dashboard(analytics, every=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_live_through_the_magic(url: str) -> None:
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "aa_notebooks")
    shell.run_line_magic("config", f"AgentAnalytics.database_url = {url!r}")
    try:
        board = shell.run_line_magic("agent_analytics", "dashboard --live --every 1500ms")
        assert isinstance(board, Dashboard)
        assert board.live.on and board.live.every == 1.5
        board.close()
        assert not board.live.on
        quiet = shell.run_line_magic("agent_analytics", "dashboard --every 1m")
        assert not quiet.live.on and quiet.live.every == 60.0
        for bad, said in (("500ms", "must be at least 1s"), ("soon", "expected an interval")):
            with pytest.raises(InvalidInputError, match=f"argument --every: {said}"):
                shell.run_line_magic("agent_analytics", f"dashboard --live --every {bad}")
    finally:
        shell.run_line_magic("config", "AgentAnalytics.database_url = None")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_failing_tick_stops_live_mode_with_one_line(live_board: Dashboard, url: str) -> None:
    board = live_board
    with get_engine(resolve_url(url)).begin() as connection:
        connection.execute(text("ALTER TABLE agentexecutions RENAME TO gone"))
    _until(lambda: not board.live.on, "live mode to stop")
    assert board.message == (
        "Live mode stopped: the database lacks a table or column this needs (no such table: "
        "agentexecutions); `aa-notebooks check-db` lists what is missing"
    )
    assert not board.controls.live.value
    assert ">Live stopped " in board.controls.status.value  # it said "Live · updated"


def test_a_killed_process_run_shows_in_flight_then_lost_then_as_a_failure(
    url: str, tmp_path: Path
) -> None:
    """The In flight panel follows the ticks: a run whose process was killed shows as running,
    then lost; once a live tracker records it as failed it leaves the panel for the cards.
    (On the real clock: heartbeats age in real time.)"""
    board = Dashboard(connect(url), live=True, every=1.0, export_dir=tmp_path)
    before = int(board.kpis["Total Executions"])
    root = Path(__file__).parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "tests.tracking.stalled_agent", url, str(tmp_path / "dead")],
        capture_output=True, text=True, cwd=root, timeout=120,
    )  # fmt: skip
    assert done.returncode == -9, done.stderr
    _until(lambda: board.in_flight.headline.startswith("1 run in flight"), "the run in flight")
    with board.live.reading:  # between ticks: a tick sets the rows, then the headline
        assert [row["Agent"] for row in board.in_flight.rows] == ["doomed"]
    _until(lambda: "1 lost" in board.in_flight.headline, "the run shown as lost")
    with board.live.reading:
        assert board.in_flight.rows[0]["Lost"] == "1"
    watcher = Tracker(url, spool_dir=tmp_path / "live", check_budgets=False,
                      heartbeat_every_s=0.2, record_lost_after_s=1.0)  # fmt: skip
    with watcher.execution(agent_name="watcher"):
        pass
    total = str(before + 2)
    _until(lambda: board.kpis["Total Executions"] == total, "the lost run and the watcher's")
    _until(lambda: board.in_flight.headline == "No runs in flight.", "an empty panel")
    watcher.close()
    failed = [row for row in board.recent.rows(0, 100) if row["cells"][2] == "doomed"]
    board.close()
    assert len(failed) == 1
