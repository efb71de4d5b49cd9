"""Text a database cannot store as given (a NUL, which PostgreSQL refuses; half an emoji, which
UTF-8 cannot encode) is stored cleaned, by every recording path: before, the whole run was
refused, its cost lost to the budgets. The tracker's writer cleans a record only once the
database refused it (SQLite keeps a NUL as given); the recording functions clean every record."""

from __future__ import annotations

from sqlalchemy import select

from aa_notebooks.db.engine import get_engine, session_factory
from aa_notebooks.db.schema import AgentExecution, ExecutionTrace
from aa_notebooks.tracking import Tracker, record_trace_step_sync, track_agent_execution_sync

BINARY = "tool output: PK\x03\x04\x00\x00 and \ud83d"
STORED = "tool output: PK\x03\x04 and \ufffd"


def _stored(url: str) -> tuple[list[str | None], list[str | None]]:
    with get_engine(url).connect() as connection:
        names = connection.execute(select(AgentExecution.agent_name)).scalars().all()
        contents = connection.execute(select(ExecutionTrace.content)).scalars().all()
    return list(names), list(contents)


def test_the_tracker_stores_cleaned_text(db_url: str, tmp_path) -> None:
    tracker = Tracker(db_url, spool_dir=tmp_path / "spool", check_budgets=False)
    with tracker.execution(agent_name="bin\x00ary \ud83d\ude00", model="gpt-4o") as run:
        run.step("observation", BINARY)
    assert tracker.flush()
    tracker.close()
    assert _stored(db_url) == (["binary \U0001f600"], [STORED])


def test_the_recording_functions_store_cleaned_text(db_url: str) -> None:
    with session_factory(db_url)() as session:
        execution = track_agent_execution_sync(
            session, None, "bin\x00ary", "react", "gpt-4o", 10, 5, 20
        )
        record_trace_step_sync(session, execution.id, 1, "observation", BINARY, 10)
    assert _stored(db_url) == (["binary"], [STORED])


def test_the_tracker_keeps_a_nul_where_the_database_stores_one(db_url: str, tmp_path) -> None:
    tracker = Tracker(db_url, spool_dir=tmp_path / "spool", check_budgets=False)
    with tracker.execution(agent_name="nul", model="gpt-4o") as run:
        run.step("observation", "PK\x03\x04\x00\x00")
    assert tracker.flush()
    tracker.close()
    stored = "PK\x03\x04" + ("\x00\x00" if db_url.startswith("sqlite") else "")
    assert _stored(db_url) == (["nul"], [stored])
