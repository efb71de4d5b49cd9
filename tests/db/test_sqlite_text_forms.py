"""An SQLite database that another program writes with the data contract's DDL: its times are
text in whichever form that program chose. `DEFAULT CURRENT_TIMESTAMP` and Python's sqlite3
adapter write a whole second without a fraction, the kit and SQLAlchemy with six digits; a row
exactly on an hour or a day must land in that hour or day either way, read raw or from the
rollups."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import bindparam, func, literal, select

from aa_notebooks.analytics import connect
from aa_notebooks.cli import main
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import AgentExecution, RangeBound, UTCDateTime
from tests.cli.test_database_commands import document_ddl

# (started_at as the other program wrote it, status, cost): both forms of a whole second
ROWS = [
    ("2026-01-12 00:00:00", "success", "1"),  # exactly midnight
    ("2026-01-12 10:00:00", "failure", "2"),  # exactly on an hour
    ("2026-01-12 10:30:00.000000", "success", "4"),
    ("2026-01-12 11:00:00.000000", "success", "8"),  # on an hour, with the fraction
    ("2026-01-12 11:59:59", "success", "16"),
    ("2026-01-13 00:00:00", "timeout", "32"),  # exactly the next midnight
]
NOW = datetime(2026, 1, 12, 12, 0, tzinfo=UTC)


@pytest.fixture
def other_programs_db(tmp_path: Path) -> str:
    path = tmp_path / "agentos.db"
    with sqlite3.connect(path) as connection:
        for statement in document_ddl("sqlite"):
            connection.execute(statement)
        for started, status, cost in ROWS:
            connection.execute(
                "INSERT INTO agentexecutions (id, request_id, session_id, agent_name, model_name, "
                "status, cost_usd, execution_time_ms, started_at) "
                "VALUES (?, ?, ?, 'a', 'gpt-4o', ?, ?, 100, ?)",
                (uuid.uuid4().hex, uuid.uuid4().hex, uuid.uuid4().hex, status, cost, started),
            )
    return f"sqlite:///{path}"


# window -> (executions, cost), counted by hand from ROWS
EXPECTED = [
    ({"period": "2h"}, 4, Decimal("30")),  # [10:00, 12:00]: 10:00, 10:30, 11:00, 11:59:59
    ({"period": "1h"}, 2, Decimal("24")),  # [11:00, 12:00]: 11:00 (with its fraction), 11:59:59
    ({"period": "12h"}, 5, Decimal("31")),  # [00:00, 12:00]: all of the 12th
    ({"start_date": "2026-01-11", "end_date": "2026-01-11"}, 0, Decimal("0")),
    ({"start_date": "2026-01-12", "end_date": "2026-01-12"}, 5, Decimal("31")),
    ({"start_date": "2026-01-13", "end_date": "2026-01-13"}, 1, Decimal("32")),
]


@pytest.mark.parametrize(("window", "executions", "cost"), EXPECTED)
def test_whole_seconds_without_a_fraction_land_in_their_hour_and_day(
    other_programs_db: str, window: dict[str, str], executions: int, cost: Decimal
) -> None:
    analytics = connect(other_programs_db, now=lambda: NOW)
    exact = analytics.overview(**window, exact=True)
    assert (exact.total_executions, exact.total_cost_usd) == (executions, cost)
    assert main(["--db", other_programs_db, "rollups", "enable"]) == 0
    read = analytics.overview(**window)
    assert (read.total_executions, read.total_cost_usd) == (executions, cost)


def test_the_rollups_of_such_rows_check_equal(
    other_programs_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--db", other_programs_db, "rollups", "enable"]) == 0
    assert main(["--db", other_programs_db, "rollups", "check"]) == 0
    assert "all equal the raw rows" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("bound", "sent"),
    [
        (datetime(2026, 1, 12, 10, 0), "2026-01-12 10:00:00"),
        (datetime(2026, 1, 12, 10, 0, 0, 500), "2026-01-12 10:00:00.000500"),
        (datetime(2026, 1, 12, 11, 0, tzinfo=UTC), "2026-01-12 11:00:00"),
    ],
)
def test_a_range_bound_is_sent_short_on_a_whole_second(
    other_programs_db: str, bound: datetime, sent: str
) -> None:
    with get_engine(other_programs_db).connect() as connection:
        sent_text = func.substr(literal(bound, RangeBound()), 1)  # the text, not parsed back
        assert connection.scalar(select(sent_text)) == sent


def test_lower_and_upper_bounds_take_the_range_form_other_comparisons_do_not(
    other_programs_db: str,
) -> None:
    started = AgentExecution.__table__.c.started_at
    with get_engine(other_programs_db).connect() as connection:

        def count(*conditions: object, **params: object) -> int:
            query = select(started).where(*conditions)  # type: ignore[arg-type]
            return len(connection.execute(query, params).all())

        # >= and < are right for a row at 10:00:00 (no fraction) and at 11:00:00.000000
        for hour, before in ((datetime(2026, 1, 12, 10), 1), (datetime(2026, 1, 12, 11), 3)):
            after = len(ROWS) - before
            assert count(started >= hour) == after
            assert count(started < hour) == before
            assert count(started >= bindparam("lower", type_=UTCDateTime()), lower=hour) == after
            assert count(started < bindparam("upper"), upper=hour) == before
            # > and <= keep the six digits, which is what they need: the row on the hour is
            # not after it, and is at or before it
            assert count(started > hour) == after - 1
            assert count(started <= hour) == before + 1
