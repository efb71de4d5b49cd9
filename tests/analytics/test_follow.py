"""completed_since: each execution once, filters, late commits inside the overlap window."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from aa_notebooks.analytics.follow import FollowFilters, FollowMark, completed_since
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import AgentExecution, ExecutionStatus

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _add(url: str, agent: str, completed_at: datetime, status: str = "success") -> uuid.UUID:
    row_id = uuid.uuid4()
    with Session(get_engine(url)) as session:
        session.add(
            AgentExecution(
                id=row_id,
                request_id=uuid.uuid4(),
                session_id=uuid.uuid4(),
                agent_name=agent,
                status=ExecutionStatus(status),
                completed_at=completed_at,
            )
        )
        session.commit()
    return row_id


def test_each_execution_once_including_same_instant_and_late_commit(db_url: str) -> None:
    engine = get_engine(db_url)
    first = _add(db_url, "a", T0)
    second = _add(db_url, "b", T0)
    rows, mark = completed_since(engine, FollowMark(T0 - timedelta(seconds=1)), FollowFilters())
    assert {row["id"] for row in rows} == {first, second}
    rows, mark = completed_since(engine, mark, FollowFilters())
    assert rows == []
    late = _add(db_url, "c", T0 - timedelta(seconds=2))
    rows, mark = completed_since(engine, mark, FollowFilters())
    assert [row["id"] for row in rows] == [late]
    rows, _ = completed_since(engine, mark, FollowFilters())
    assert rows == []


def test_a_row_stamped_ahead_of_the_clock_hides_no_later_run(db_url: str) -> None:
    """A writer whose clock runs an hour fast: the mark moved to its completed_at, and every
    run completing in the hour before that was never shown (tail, live mode)."""
    engine = get_engine(db_url)
    now = datetime.now(UTC)
    first = _add(db_url, "first", now - timedelta(seconds=1))
    skewed = _add(db_url, "skewed", now + timedelta(hours=1))
    rows, mark = completed_since(engine, FollowMark(now - timedelta(minutes=1)), FollowFilters())
    assert [row["id"] for row in rows] == [first, skewed]
    assert mark.completed_at <= datetime.now(UTC)
    normal = _add(db_url, "normal", datetime.now(UTC))
    rows, mark = completed_since(engine, mark, FollowFilters())
    assert [row["id"] for row in rows] == [normal]  # the skewed one is not shown twice
    rows, _ = completed_since(engine, mark, FollowFilters())
    assert rows == []


def test_filters(db_url: str) -> None:
    engine = get_engine(db_url)
    _add(db_url, "a", T0)
    wanted = _add(db_url, "b", T0, status="failure")
    start = FollowMark(T0 - timedelta(seconds=1))
    rows, _ = completed_since(engine, start, FollowFilters(agent="b"))
    assert [row["id"] for row in rows] == [wanted]
    rows, _ = completed_since(engine, start, FollowFilters(status="failure"))
    assert [row["id"] for row in rows] == [wanted]
