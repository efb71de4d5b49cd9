"""`connect`: unreachable or empty databases, bad scopes and clocks give one clear error."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from aa_notebooks.analytics import connect
from aa_notebooks.db import engine
from aa_notebooks.errors import (
    ConfigurationError,
    DatabaseUnavailableError,
    InvalidInputError,
    SchemaError,
)
from tests.analytics import dataset


def test_unreachable_postgresql() -> None:
    url = "postgresql://aa_test:secret@127.0.0.1:1/nowhere"
    with pytest.raises(DatabaseUnavailableError, match="cannot open database") as error:
        connect(url)
    assert "secret" not in str(error.value)  # the password is masked


def test_sqlite_path_that_cannot_be_opened(tmp_path: Path) -> None:
    with pytest.raises(DatabaseUnavailableError, match="cannot open database"):
        connect(f"sqlite:///{tmp_path}")  # a directory, not a database file


def test_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    with pytest.raises(ConfigurationError, match="aa-notebooks init-db"):
        connect(f"sqlite:///{path}")
    assert not path.exists()


def test_database_without_the_tables(empty_db_url: str) -> None:
    if empty_db_url.startswith("sqlite"):
        Path(make_url(empty_db_url).database).touch()  # an existing file with no tables
    with pytest.raises(SchemaError, match=r"run `aa-notebooks init-db`.*check-db"):
        connect(empty_db_url)


def test_bad_scope_and_clock(loaded_url: str) -> None:
    with pytest.raises(InvalidInputError, match="user_id must be a UUID"):
        connect(loaded_url, user_id="alice")
    naive = connect(loaded_url, now=lambda: datetime(2026, 11, 25, 12))
    with pytest.raises(InvalidInputError, match="aware datetime"):
        naive.overview()


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_table_another_session_keeps_locked_fails_the_read_after_the_lock_timeout(
    loaded_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A migration or VACUUM FULL holding agentexecutions made a report wait without end (and
    the scheduler, and its SIGTERM, with it)."""
    analytics = connect(loaded_url, now=lambda: dataset.NOW)
    monkeypatch.setattr(engine, "READ_LOCK_TIMEOUT_S", 1)
    with psycopg.connect(make_url(loaded_url).render_as_string(hide_password=False)) as holder:
        holder.execute("LOCK TABLE agentexecutions IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailableError) as error:
            analytics.overview("7d", exact=True)
        waited = time.monotonic() - started
    assert str(error.value) == (
        "another session held a lock on a table this reads for over 1 s (a migration, VACUUM "
        "FULL or LOCK TABLE); try again when it is done"
    )
    assert waited < 30  # failed, not left waiting for the lock
    assert analytics.overview("7d", exact=True).total_executions == 8  # read, the lock gone
