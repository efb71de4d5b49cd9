"""Predicates on executions (window, user scope, status, agent, model), values bound as parameters.

User input is checked against whitelists here, so an unknown status or a malformed id is one
clear InvalidInputError naming what is accepted, before any SQL runs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case
from sqlalchemy.sql.elements import ColumnElement

from aa_notebooks.analytics.periods import Window
from aa_notebooks.db.schema import (
    AgentExecution,
    ExecutionStatus,
    ExecutionTrace,
    TokenUsage,
    table_of,
)
from aa_notebooks.errors import InvalidInputError
from aa_notebooks.validation import check_text

EXECUTIONS = table_of(AgentExecution)
TRACES = table_of(ExecutionTrace)
TOKEN_USAGES = table_of(TokenUsage)
STATUSES = tuple(status.value for status in ExecutionStatus)


def parse_uuid(value: uuid.UUID | str, name: str) -> uuid.UUID:
    """`value` as a UUID, or an InvalidInputError saying which parameter was malformed."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value).strip())
    except ValueError:
        raise InvalidInputError(
            f"{name} must be a UUID like 123e4567-e89b-12d3-a456-426614174000; got {value!r}"
        ) from None


def parse_status(status: str) -> str:
    """A status from the document's enum, or an error listing them."""
    text = str(status).strip().lower()
    if text not in STATUSES:
        raise InvalidInputError(f"status must be one of {', '.join(STATUSES)}; got {status!r}")
    return text


def in_window(window: Window) -> ColumnElement[bool]:
    """Executions started inside the window."""
    lower, upper = window.bounds()
    started = EXECUTIONS.c.started_at
    return and_(started >= lower, started < upper)


def in_scope(user_id: uuid.UUID | None) -> list[ColumnElement[bool]]:
    """The user's executions only, or no condition for all users."""
    return [] if user_id is None else [EXECUTIONS.c.user_id == user_id]


def is_success() -> ColumnElement[int]:
    """1 for a successful execution, else 0 (summed into success counts)."""
    return case((EXECUTIONS.c.status == ExecutionStatus.success.value, 1), else_=0)


def agent_groups() -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """GROUP BY columns for agents: agent_id where set, else agent_name (typed agent_id kept)."""
    columns = EXECUTIONS.c
    return columns.agent_id, case((columns.agent_id.is_(None), columns.agent_name)).label("by_name")


def has_agent() -> ColumnElement[bool]:
    """Executions attributed to some agent (by id or by name)."""
    return EXECUTIONS.c.agent_id.isnot(None) | EXECUTIONS.c.agent_name.isnot(None)


def agent_match(agent: uuid.UUID | str) -> tuple[ColumnElement[bool], uuid.UUID | None]:
    """Executions of an agent given by id (a UUID matches agent_id) or by name (agent_name)."""
    if isinstance(agent, uuid.UUID):
        return EXECUTIONS.c.agent_id == agent, agent
    text = check_text(str(agent), "agent").strip()
    if not text:
        raise InvalidInputError("agent must be an agent id (UUID) or an agent name; got ''")
    try:
        agent_id = uuid.UUID(text)
    except ValueError:
        return EXECUTIONS.c.agent_name == text, None
    return EXECUTIONS.c.agent_id == agent_id, agent_id


@dataclass(frozen=True)
class ExecutionFilter:
    """The executions list's optional filters; each given one narrows the rows."""

    status: str | None = None
    agent_id: uuid.UUID | str | None = None
    agent_name: str | None = None
    model: str | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        """The WHERE conditions, validating status and agent_id."""
        columns = EXECUTIONS.c
        out: list[ColumnElement[bool]] = []
        if self.status is not None:
            out.append(columns.status == parse_status(self.status))
        if self.agent_id is not None:
            out.append(columns.agent_id == parse_uuid(self.agent_id, "agent_id"))
        if self.agent_name is not None:
            out.append(columns.agent_name == check_text(self.agent_name, "agent_name"))
        if self.model is not None:
            out.append(columns.model_name == check_text(self.model, "model"))
        return out
