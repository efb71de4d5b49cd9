"""`executions` (a filtered, sorted page) and `execution` (one, with its trace and token usage).

Grids that scroll through a whole window read row ranges from `ExecutionRows` instead, which
seeks from known rows rather than stepping over every row before the range.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from sqlalchemy import Column, String, cast, func, select
from sqlalchemy.sql.elements import ColumnElement, Label, UnaryExpression

from aa_notebooks.analytics.choices import SORT_COLUMNS, SORT_ORDERS, choose
from aa_notebooks.analytics.filters import (
    EXECUTIONS,
    ExecutionFilter,
    in_scope,
    in_window,
    parse_uuid,
)
from aa_notebooks.analytics.frames import to_frame
from aa_notebooks.analytics.periods import Window
from aa_notebooks.analytics.results import ExecutionDetail, ExecutionPage
from aa_notebooks.analytics.source import Source
from aa_notebooks.analytics.steps import (
    NESTING_FIELDS,
    TRACE_FIELDS,
    USAGE_FIELDS,
    token_usage,
    trace_steps,
)
from aa_notebooks.errors import InvalidInputError, NotFoundError

MAX_PAGE_SIZE = 1000
MAX_OFFSET = 2**63 - 1  # OFFSET is a signed 64-bit integer on both databases
MAX_PAGE = MAX_OFFSET // MAX_PAGE_SIZE + 1
"""The last page whose offset fits OFFSET at any page size (far beyond any real table)."""
_TEXT_SORTS = ("agent_name", "model_name", "status")
EXECUTION_COLUMNS = (
    "id", "started_at", "completed_at", "status", "agent_id", "agent_name", "agent_type",
    "model_name", "input_tokens", "output_tokens", "total_tokens", "cost_usd",
    "execution_time_ms", "llm_time_ms", "query_preview", "error_type", "error_message",
    "user_id", "request_id", "session_id",
)  # fmt: skip
"""The data contract's columns, in display order; `flow_id` follows where the database has it."""


def execution_columns(source: Source) -> list[Label[Any] | Column[Any]]:
    """The executions' columns to select: money read exactly, status as text, flow_id if any."""
    names = [*EXECUTION_COLUMNS, *(["flow_id"] if source.has("agentexecutions", "flow_id") else [])]
    c = EXECUTIONS.c
    special = {
        "cost_usd": source.dialect.money(c.cost_usd).label("cost_usd"),
        "status": cast(c.status, String).label("status"),
    }
    return [special.get(n, c[n]) for n in names]


def execution_record(source: Source, row: Any) -> dict[str, Any]:
    """A result row of `execution_columns` as a dict, with cost_usd as Decimal (None where the
    cost is unknown: not $0, which the cost filters would then be expected to find)."""
    record = dict(row._mapping)
    if record["cost_usd"] is not None:
        record["cost_usd"] = source.dialect.to_money(record["cost_usd"])
    return record


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_offset(offset: int) -> int:
    """A row offset from 0 up to what OFFSET holds, or an error."""
    if not _whole(offset) or not 0 <= offset <= MAX_OFFSET:
        raise InvalidInputError(f"offset must be a whole number 0-{MAX_OFFSET}; got {offset!r}")
    return offset


def _check_paging(page: int, page_size: int, sort_by: str, sort_order: str) -> str:
    if not _whole(page) or not 1 <= page <= MAX_PAGE:
        raise InvalidInputError(f"page must be a whole number 1-{MAX_PAGE}; got {page!r}")
    if not _whole(page_size):
        raise InvalidInputError(f"page_size must be a whole number 1-{MAX_PAGE_SIZE}")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInputError(f"page_size must be 1-{MAX_PAGE_SIZE}; got {page_size}")
    choose(sort_by, SORT_COLUMNS, "sort_by")
    order = str(sort_order).lower()
    if order not in SORT_ORDERS:
        raise InvalidInputError(f"sort_order must be asc or desc; got {sort_order!r}")
    return order


def _ordering(source: Source, sort_by: str, order: str) -> list[UnaryExpression[Any]]:
    column: ColumnElement[Any] = EXECUTIONS.c[sort_by]
    if sort_by in _TEXT_SORTS:
        column = source.dialect.text_order(cast(column, String))
    keys = [column, EXECUTIONS.c.id]  # id breaks ties, so pages never overlap
    directed = [key.desc() if order == "desc" else key.asc() for key in keys]
    # started_at is never NULL inside a window; other NULLs go last on both databases.
    return directed if sort_by == "started_at" else [directed[0].nulls_last(), directed[1]]


def executions(
    source: Source,
    window: Window,
    page: int,
    page_size: int,
    filters: ExecutionFilter,
    sort_by: str,
    sort_order: str,
    offset: int | None = None,
) -> ExecutionPage:
    """One page of the window's executions matching `filters`, plus the total count; `offset`
    (rows to skip) replaces `page` when given."""
    order = _check_paging(page, page_size, sort_by, sort_order)
    skip = (page - 1) * page_size if offset is None else check_offset(offset)
    where = [in_window(window), *in_scope(source), *filters.clauses()]
    rows_query = (
        select(*execution_columns(source))
        .where(*where)
        .order_by(*_ordering(source, sort_by, order))
        .limit(page_size)
        .offset(skip)
    )
    with source.connect() as connection:
        total = connection.execute(select(func.count()).where(*where)).scalar_one()
        records = [execution_record(source, r) for r in connection.execute(rows_query)]
    columns = [c.key for c in execution_columns(source)]
    frame = to_frame(records, columns, times=("started_at", "completed_at"), money=("cost_usd",))
    return ExecutionPage(
        window=window,
        scope=source.scope,
        rows=frame,
        total=total,
        page=page if offset is None else offset // page_size + 1,
        page_size=page_size,
        pages=math.ceil(total / page_size),
        sort_by=sort_by,
        sort_order=order,
        offset=skip,
    )


def execution(source: Source, execution_id: uuid.UUID | str) -> ExecutionDetail:
    """The execution with this id (in scope), its trace steps and its token usage."""
    key = parse_uuid(execution_id, "execution id")
    query = select(*execution_columns(source)).where(EXECUTIONS.c.id == key, *in_scope(source))
    with source.connect() as connection:
        row = connection.execute(query).first()
        if row is None:
            where = "" if source.user_id is None else f" for {source.scope}"
            raise NotFoundError(f"no execution with id {key}{where}")
        nested = source.has("executiontraces", "depth")
        step_fields = TRACE_FIELDS + NESTING_FIELDS if nested else TRACE_FIELDS
        steps = (
            trace_steps(connection, [key], nested=nested).get(key, [])
            if source.has("executiontraces")
            else None
        )
        usage = (
            token_usage(source, connection, [key]).get(key, [])
            if source.has("tokenusages")
            else None
        )
    return ExecutionDetail(
        scope=source.scope,
        execution=execution_record(source, row),
        traces=None if steps is None else to_frame(steps, step_fields, times=("timestamp",)),
        token_usage=None if usage is None else to_frame(usage, USAGE_FIELDS, money=("cost_usd",)),
    )
