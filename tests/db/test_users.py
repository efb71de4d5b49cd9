"""The users(id) rows the kit adds in its own database, and only there."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from aa_notebooks.budgets import record_execution
from aa_notebooks.db.engine import dispose_engine, get_engine
from aa_notebooks.db.records import AgentExecutionCreate
from aa_notebooks.db.setup import init_db
from aa_notebooks.db.users import is_kit_database
from tests.cli.test_database_commands import document_sqlite


def _run(user: uuid.UUID) -> AgentExecutionCreate:
    return AgentExecutionCreate(
        user_id=user, request_id=uuid.uuid4(), session_id=uuid.uuid4(), agent_name="bot",
        status="success", cost_usd="0.01", execution_time_ms=10,
    )  # fmt: skip


def _users(path: Path) -> list[tuple[str]]:
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT id FROM users").fetchall()


def test_a_database_made_the_kits_after_a_first_look_takes_new_users(tmp_path: Path) -> None:
    """The answer "not the kit's" is forgotten when init-db makes it the kit's."""
    path = tmp_path / "later.db"
    url = f"sqlite:///{path}"
    with get_engine(url).connect() as connection:
        assert not is_kit_database(connection)  # an empty file
    init_db(url)
    newcomer = uuid.uuid4()
    record_execution(url, _run(newcomer), on_alerts=lambda _url: None)
    assert _users(path) == [(newcomer.hex,)]


def test_a_file_made_again_by_another_program_is_looked_at_again(tmp_path: Path) -> None:
    """The kit's database deleted and made again at the same path by the data contract's DDL
    (after the engine is disposed): an unknown user is refused there, never added."""
    path = tmp_path / "again.db"
    url = f"sqlite:///{path}"
    init_db(url)
    record_execution(url, _run(uuid.uuid4()), on_alerts=lambda _url: None)
    dispose_engine(url)
    path.unlink()
    document_sqlite(path)
    with pytest.raises(IntegrityError, match="FOREIGN KEY constraint failed"):
        record_execution(url, _run(uuid.uuid4()), on_alerts=lambda _url: None)
    assert _users(path) == []
