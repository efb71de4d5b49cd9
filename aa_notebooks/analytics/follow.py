"""Executions completed after a high-water mark: what `aa-notebooks tail` polls.

Each poll reads only rows with completed_at at or after (mark - overlap) through the
(completed_at, id) index, and drops ids already shown, so rows completing in the same instant
or committed late with a slightly older completed_at appear exactly once. The mark never passes
the reader's clock, so a row stamped ahead of it hides nothing. A row committed more than the
overlap (5 s) after it completed, such as a spooled run replayed after an outage, is not shown.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select

from aa_notebooks.db.schema import AgentExecution, ExecutionStatus

OVERLAP = timedelta(seconds=5)
COLUMNS = (
    AgentExecution.id,
    AgentExecution.completed_at,
    AgentExecution.agent_name,
    AgentExecution.status,
    AgentExecution.execution_time_ms,
    AgentExecution.total_tokens,
    AgentExecution.cost_usd,
    AgentExecution.model_name,
    AgentExecution.query_preview,
)


@dataclass
class FollowFilters:
    """The executions to follow; None means any."""

    agent: str | None = None
    status: str | None = None
    user_id: uuid.UUID | None = None
    model: str | None = None
    started_from: datetime | None = None
    """Only executions started at or after this (a dashboard window's start)."""
    started_before: datetime | None = None
    """Only executions started before this (a window with fixed dates)."""


@dataclass
class FollowMark:
    """Where the last poll ended: the newest completed_at seen and the ids inside the overlap."""

    completed_at: datetime
    seen: dict[uuid.UUID, datetime] = field(default_factory=dict)


def completed_since(
    engine: Engine, mark: FollowMark, filters: FollowFilters
) -> tuple[list[dict[str, Any]], FollowMark]:
    """The executions completed since `mark` (oldest first) not shown before, and the new mark."""
    with engine.connect() as connection:
        return read_completed_since(connection, mark, filters)


def read_completed_since(
    connection: Connection,
    mark: FollowMark,
    filters: FollowFilters,
    columns: Sequence[Any] = COLUMNS,
) -> tuple[list[dict[str, Any]], FollowMark]:
    """`completed_since` on an open connection (so it can share a transaction), reading
    `columns` (which must include id and completed_at)."""
    floor = mark.completed_at - OVERLAP
    query = (
        select(*columns)
        .where(AgentExecution.completed_at >= floor)
        .order_by(AgentExecution.completed_at, AgentExecution.id)
    )
    if filters.agent is not None:
        query = query.where(AgentExecution.agent_name == filters.agent)
    if filters.status is not None:
        query = query.where(AgentExecution.status == ExecutionStatus(filters.status))
    if filters.user_id is not None:
        query = query.where(AgentExecution.user_id == filters.user_id)
    if filters.model is not None:
        query = query.where(AgentExecution.model_name == filters.model)
    if filters.started_from is not None:
        query = query.where(AgentExecution.started_at >= filters.started_from)
    if filters.started_before is not None:
        query = query.where(AgentExecution.started_at < filters.started_before)
    rows = [dict(row._mapping) for row in connection.execute(query)]
    fresh = [row for row in rows if row["id"] not in mark.seen]
    # a row completed "later" than this clock says (a writer whose clock runs fast) moves the
    # mark no further than now: past it, every run completing before that time was missed
    latest = min(max((row["completed_at"] for row in rows), default=mark.completed_at),
                 datetime.now(UTC))  # fmt: skip
    newest = max(mark.completed_at, latest)
    seen = {key: when for key, when in mark.seen.items() if when >= newest - OVERLAP}
    seen.update((row["id"], row["completed_at"]) for row in rows)
    return fresh, FollowMark(newest, seen)
