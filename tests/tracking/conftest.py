"""Trackers over a test database, a database that is down until a test brings it up, and
helpers to read back what was recorded."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from aa_notebooks.db.engine import dispose_engine, get_engine
from aa_notebooks.db.schema import AgentExecution, ExecutionTrace, TokenUsage
from aa_notebooks.db.setup import init_db
from aa_notebooks.tracking import Tracker
from tests.conftest import POSTGRES_ENV

EXECUTIONS = AgentExecution.__table__
TRACES = ExecutionTrace.__table__
USAGES = TokenUsage.__table__


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    """A spool directory of the test's own."""
    return tmp_path / "spool"


@pytest.fixture
def tracker(db_url: str, spool_dir: Path) -> Iterator[Tracker]:
    """A tracker over the test database, closed (so flushed) at the end."""
    made = Tracker(db_url, spool_dir=spool_dir, retry_interval_s=0.2)
    yield made
    made.close()


def executions(url: str) -> list[dict[str, Any]]:
    """Every recorded execution as a dict, oldest first."""
    with get_engine(url).connect() as connection:
        query = select(EXECUTIONS).order_by(EXECUTIONS.c.started_at, EXECUTIONS.c.id)
        return [dict(row) for row in connection.execute(query).mappings()]


def steps(url: str, execution_id: uuid.UUID) -> list[dict[str, Any]]:
    """The trace steps of one execution, by step number."""
    with get_engine(url).connect() as connection:
        query = (
            select(TRACES)
            .where(TRACES.c.execution_id == execution_id)
            .order_by(TRACES.c.step_number)
        )
        return [dict(row) for row in connection.execute(query).mappings()]


def usages(url: str, execution_id: uuid.UUID) -> list[dict[str, Any]]:
    """The token usages of one execution, in id (creation) order."""
    with get_engine(url).connect() as connection:
        query = select(USAGES).where(USAGES.c.execution_id == execution_id).order_by(USAGES.c.id)
        return [dict(row) for row in connection.execute(query).mappings()]


def counts(url: str) -> tuple[int, int, int]:
    """How many executions, steps and usages the database holds."""
    with get_engine(url).connect() as connection:
        return tuple(  # type: ignore[return-value]
            connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
            for table in ("agentexecutions", "executiontraces", "tokenusages")
        )


@pytest.fixture
def down_database(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[str, Callable[[], None]]]:
    """A database URL that cannot be opened yet, and the function that brings it up.

    SQLite: the file's path is a directory until then. PostgreSQL: the database does not exist
    until then (created from the schema template).
    """
    if backend == "sqlite":
        path = tmp_path / "down" / "analytics.db"
        path.mkdir(parents=True)
        url = f"sqlite:///{path}"

        def bring_up() -> None:
            shutil.rmtree(path)
            init_db(url)

        yield url, bring_up
        dispose_engine(url)
        return
    template = request.getfixturevalue("postgres_template")
    admin = os.environ[POSTGRES_ENV]
    name = f"aa_down_{uuid.uuid4().hex[:12]}"
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)

    def bring_up_postgres() -> None:
        admin_statement(admin, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')

    yield url, bring_up_postgres
    dispose_engine(url)
    admin_statement(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def admin_statement(admin_url: str, statement: str) -> None:
    """Run one statement outside a transaction (CREATE or DROP DATABASE) as the admin."""
    engine = create_engine(
        make_url(admin_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()
