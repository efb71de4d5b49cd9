"""Predicates on executions (window, user scope, status, agent, model, cost and duration ranges,
text in the query preview), values bound as parameters.

User input is checked against whitelists here, so an unknown status or a malformed id is one
clear InvalidInputError naming what is accepted, before any SQL runs.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Boolean, and_, bindparam, case, func
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from aa_notebooks.analytics.dialect import Dialect
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

if TYPE_CHECKING:
    from aa_notebooks.analytics.source import Source

EXECUTIONS = table_of(AgentExecution)
TRACES = table_of(ExecutionTrace)
TOKEN_USAGES = table_of(TokenUsage)
STATUSES = tuple(status.value for status in ExecutionStatus)
MAX_COST = Decimal("9999.999999")
"""The largest cost NUMERIC(10,6) holds: a cost bound beyond it is surely a mistake."""
MAX_DURATION_MS = 2**31 - 1
"""The largest duration an INTEGER column holds."""
MAX_SEARCH = 1000
"""The longest text search accepted (query previews are short)."""


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
    """A status from the data contract's enum, or an error listing them."""
    text = str(status).strip().lower()
    if text not in STATUSES:
        raise InvalidInputError(f"status must be one of {', '.join(STATUSES)}; got {status!r}")
    return text


def in_window(window: Window) -> ColumnElement[bool]:
    """Executions started inside the window."""
    lower, upper = window.bounds()
    started = EXECUTIONS.c.started_at
    return and_(started >= lower, started < upper)


def in_scope(source: Source) -> list[ColumnElement[bool]]:
    """The source's executions: its user's only (no condition for all users), narrowed as the
    source is (`Source.narrowed`)."""
    return source.scope_on(EXECUTIONS)


def is_success() -> ColumnElement[int]:
    """1 for a successful execution, else 0 (summed into success counts)."""
    return case((EXECUTIONS.c.status == ExecutionStatus.success.value, 1), else_=0)


def agent_groups() -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """GROUP BY columns for agents: agent_id where set, else agent_name (typed agent_id kept)."""
    columns = EXECUTIONS.c
    return columns.agent_id, case((columns.agent_id.is_(None), columns.agent_name)).label("by_name")


def key_groups(
    dialect: Dialect, by: Literal["agent", "model"]
) -> tuple[list[ColumnElement[Any]], list[ColumnElement[Any]]]:
    """The key columns a per-agent or per-model query selects, and its GROUP BY: a model by
    name; an agent as `agent_groups` has it, shown by its name (the greatest, in text order;
    the least too, which tells a renamed agent: `agent_names`)."""
    c = EXECUTIONS.c
    if by == "model":
        return [c.model_name.label("model")], [c.model_name]
    agent_id, by_name = agent_groups()
    name = dialect.text_order(c.agent_name)
    names = [func.max(name).label("agent_name"), func.min(name).label("least_name")]
    return [agent_id, by_name, *names], [dialect.group_key(agent_id), by_name]


def has_agent() -> ColumnElement[bool]:
    """Executions attributed to some agent (by id or by name)."""
    return EXECUTIONS.c.agent_id.isnot(None) | EXECUTIONS.c.agent_name.isnot(None)


def agent_column(agent: uuid.UUID | str) -> tuple[str, uuid.UUID | str]:
    """The column and value that pick an agent: a UUID (or its text) its agent_id, other text
    its agent_name (`Source.narrowed` takes the pair)."""
    if isinstance(agent, uuid.UUID):
        return "agent_id", agent
    text = check_text(str(agent), "agent").strip()
    if not text:
        raise InvalidInputError("agent must be an agent id (UUID) or an agent name; got ''")
    try:
        return "agent_id", uuid.UUID(text)
    except ValueError:
        return "agent_name", text


def parse_cost(value: Decimal | float | int | str, name: str) -> Decimal:
    """A cost bound in USD (0 to MAX_COST), or an error naming the parameter."""
    try:
        cost = Decimal(str(value).strip()) if not isinstance(value, bool) else None
    except InvalidOperation:
        cost = None
    if cost is None or not cost.is_finite() or not 0 <= cost <= MAX_COST:
        raise InvalidInputError(f"{name} must be a cost in USD from 0 to {MAX_COST}; got {value!r}")
    return cost


def parse_duration(value: int | float | str, name: str) -> int:
    """A duration bound in whole milliseconds (0 to MAX_DURATION_MS), or an error naming it."""
    number: float | None
    try:
        number = None if isinstance(value, bool) else float(str(value).strip())
    except ValueError:
        number = None
    if number is None or not math.isfinite(number) or number != int(number):
        raise InvalidInputError(f"{name} must be whole milliseconds; got {value!r}")
    if not 0 <= number <= MAX_DURATION_MS:
        raise InvalidInputError(f"{name} must be 0-{MAX_DURATION_MS:,} ms; got {value!r}")
    return int(number)


def _range(
    column: ColumnElement[Any], low: Any, high: Any, names: tuple[str, str]
) -> list[ColumnElement[bool]]:
    """`low <= column <= high` for the bounds given; a low above the high is an error."""
    if low is not None and high is not None and low > high:
        raise InvalidInputError(f"{names[0]} ({low}) is above {names[1]} ({high}): swap them")
    return [
        *([column >= low] if low is not None else []),
        *([column <= high] if high is not None else []),
    ]


def contains_text(column: ColumnElement[Any], text: str, name: str) -> ColumnElement[bool]:
    """`column` holds `text`, ignoring case; %, _ and the escape character match themselves."""
    needle = check_text(text, name)
    if len(needle) > MAX_SEARCH:
        raise InvalidInputError(f"{name} must be at most {MAX_SEARCH} characters")
    escaped = needle.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return ContainsText(column, bindparam(None, f"%{escaped}%", unique=True))


class ContainsText(ColumnElement[bool]):
    """`column LIKE pattern` ignoring case, written as each database does it fastest:
    PostgreSQL's ILIKE (a pg_trgm index can serve it), SQLite's LIKE (which ignores ASCII case
    by itself: lower() on both sides only made it 1.6x slower), lower() LIKE lower() elsewhere."""

    inherit_cache = True
    type = Boolean()
    _traverse_internals = [  # noqa: RUF012 (SQLAlchemy reads it as a class attribute)
        ("column", InternalTraversal.dp_clauseelement),
        ("pattern", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], pattern: BindParameter[str]) -> None:
        self.column, self.pattern = column, pattern


def _parts(element: ContainsText, compiler: SQLCompiler, **kw: Any) -> tuple[str, str]:
    return compiler.process(element.column, **kw), compiler.process(element.pattern, **kw)


@compiles(ContainsText)
def _contains_text(element: ContainsText, compiler: SQLCompiler, **kw: Any) -> str:
    column, pattern = _parts(element, compiler, **kw)
    return f"(lower({column}) LIKE lower({pattern}) ESCAPE '/')"


@compiles(ContainsText, "sqlite")
def _contains_text_sqlite(element: ContainsText, compiler: SQLCompiler, **kw: Any) -> str:
    column, pattern = _parts(element, compiler, **kw)
    return f"({column} LIKE {pattern} ESCAPE '/')"


@compiles(ContainsText, "postgresql")
def _contains_text_postgresql(element: ContainsText, compiler: SQLCompiler, **kw: Any) -> str:
    column, pattern = _parts(element, compiler, **kw)
    return f"({column} ILIKE {pattern} ESCAPE '/')"


@dataclass(frozen=True)
class ExecutionFilter:
    """The executions list's optional filters; each given one narrows the rows.

    Cost (USD) and duration (ms) ranges are inclusive; `search` finds text anywhere in the
    query preview, ignoring case (ASCII case on SQLite).
    """

    status: str | None = None
    agent_id: uuid.UUID | str | None = None
    agent_name: str | None = None
    model: str | None = None
    min_cost: Decimal | float | str | None = None
    max_cost: Decimal | float | str | None = None
    min_duration_ms: int | str | None = None
    max_duration_ms: int | str | None = None
    search: str | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        """The WHERE conditions, validating every value first."""
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
        min_cost, max_cost = (
            None if value is None else parse_cost(value, name)
            for value, name in ((self.min_cost, "min_cost"), (self.max_cost, "max_cost"))
        )
        out += _range(columns.cost_usd, min_cost, max_cost, ("min_cost", "max_cost"))
        shortest, longest = (
            None if value is None else parse_duration(value, name)
            for value, name in (
                (self.min_duration_ms, "min_duration_ms"),
                (self.max_duration_ms, "max_duration_ms"),
            )
        )
        names = ("min_duration_ms", "max_duration_ms")
        out += _range(columns.execution_time_ms, shortest, longest, names)
        if self.search is not None and self.search != "":
            out.append(contains_text(columns.query_preview, self.search, "search"))
        return out
