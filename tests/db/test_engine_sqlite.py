"""SQLite connections: the kit's own file runs in WAL; a file another program made keeps its
journal mode while the kit only reads it (a read-only file reads too), and is switched to WAL
when the kit records into it. A file replaced at its path is read anew at the next connect."""

from __future__ import annotations

import os
import sqlite3
import uuid
from pathlib import Path

from aa_notebooks.analytics import connect
from aa_notebooks.db.engine import dispose_engine, get_engine
from aa_notebooks.db.setup import init_db
from aa_notebooks.tracking import Tracker
from tests.cli.test_database_commands import document_sqlite, document_sqlite_with_run


def journal_mode(path: Path) -> str:
    with sqlite3.connect(path) as connection:
        return str(connection.execute("PRAGMA journal_mode").fetchone()[0])


def test_the_kits_own_file_runs_in_wal(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kit.db'}"
    init_db(url)
    dispose_engine(url)
    assert journal_mode(tmp_path / "kit.db") == "wal"


def test_reading_another_programs_file_keeps_its_journal_mode(tmp_path: Path) -> None:
    url = document_sqlite_with_run(tmp_path / "agentos.db", agent_name="a", cost_usd=1.25)
    assert journal_mode(tmp_path / "agentos.db") == "delete"
    overview = connect(url).overview(start_date="2026-11-01", end_date="2026-11-30")
    dispose_engine(url)
    assert (overview.total_executions, overview.total_cost_usd) == (1, 1.25)
    assert journal_mode(tmp_path / "agentos.db") == "delete"


def test_a_read_only_connection_reads(tmp_path: Path) -> None:
    """`mode=ro` (as a file the user may only read is opened): no write is tried."""
    document_sqlite_with_run(tmp_path / "agentos.db", agent_name="a", cost_usd=1.25)
    url = f"sqlite:///file:{tmp_path / 'agentos.db'}?mode=ro&uri=true"
    overview = connect(url).overview(start_date="2026-11-01", end_date="2026-11-30")
    dispose_engine(url)
    assert overview.total_executions == 1


def test_recording_into_another_programs_file_switches_it_to_wal(tmp_path: Path) -> None:
    """The writer and the notebooks reading the file then go side by side."""
    url = document_sqlite_with_run(tmp_path / "agentos.db", agent_name="a", cost_usd=1.25)
    tracker = Tracker(url, spool_dir=tmp_path / "spool", check_budgets=False)
    with tracker.execution(agent_name="recorded") as run:
        run.step("thought", "a step")
    assert tracker.flush(30)
    tracker.close()
    dispose_engine(url)
    assert journal_mode(tmp_path / "agentos.db") == "wal"


def test_a_new_connect_reads_a_file_replaced_at_its_path(tmp_path: Path) -> None:
    """A restored backup moved over the database: the next connect reads it, not the deleted
    file the pooled connections still hold open."""
    path, replacement = tmp_path / "agentos.db", tmp_path / "restored.db"
    url = document_sqlite_with_run(path)
    window = {"start_date": "2026-11-01", "end_date": "2026-11-30"}  # the runs' 2026-11-05
    assert connect(url).overview(**window).total_executions == 1
    document_sqlite_with_run(replacement, agent_name="restored")
    with sqlite3.connect(replacement) as connection:
        connection.execute(
            "INSERT INTO agentexecutions (id, request_id, session_id, agent_name, status, "
            "started_at) VALUES (?, ?, ?, 'restored', 'failure', '2026-11-05 11:00:00')",
            (str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())),
        )
    os.replace(replacement, path)
    overview = connect(url).overview(**window)
    assert (overview.total_executions, overview.success_rate) == (2, 50.0)


def test_a_file_replaced_after_its_engine_served_is_read_anew_and_others_are_kept(
    tmp_path: Path,
) -> None:
    """The engine opened the file before any connect (a tracker, a budget check); replacing it
    still reconnects that engine only: another database's engine stays as it was."""
    path, replacement = tmp_path / "agentos.db", tmp_path / "restored.db"
    url = document_sqlite_with_run(path)
    other = document_sqlite_with_run(tmp_path / "other.db")
    other_engine = get_engine(other)
    with get_engine(url).connect() as connection:  # the pool holds the first file open
        assert connection.exec_driver_sql("SELECT COUNT(*) FROM agentexecutions").scalar() == 1
    document_sqlite(replacement)  # the same tables, no run
    os.replace(replacement, path)
    window = {"start_date": "2026-11-01", "end_date": "2026-11-30"}
    assert connect(url).overview(**window).total_executions == 0
    assert get_engine(other) is other_engine
