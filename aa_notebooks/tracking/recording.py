"""The data contract's three recording functions, for AsyncSession, with sync twins.

The async ones keep the data contract's names and parameters, so its integration guide runs as
written; the `_sync` twins take a plain Session. Costs come from `recorded_cost`: a price file
that cannot be read prices the row at 0 with a warning (`reprice` mends it later), and the run is
still recorded. An execution counts towards budgets in the transaction that inserts it
(`apply_spend`), as the tracker's do, so a hard stop refuses the next check after its commit;
alerts it fires are then emailed and posted from a background thread.

Values are checked first (InvalidInputError naming the field, the value and the limit: a count
past INTEGER's range is refused, never wrapped). A database that cannot be used never raises into
the agent: the row goes to the spool of a background writer for that database, which writes it
(exactly once) when the database is back, and the function returns the row it would have stored,
unattached to the session. While that spool holds rows, later calls queue behind them, so a step
never arrives before its execution.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from datetime import UTC, datetime
from enum import Enum
from typing import Any, TypeVar

from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from aa_notebooks.budgets.delivery import deliver_in_background
from aa_notebooks.budgets.recording import apply_spend
from aa_notebooks.db.engine import explain_database_error
from aa_notebooks.db.records import (
    AgentExecutionCreate,
    ExecutionTraceCreate,
    TokenUsageCreate,
    finished_times,
    validated,
)
from aa_notebooks.db.repositories import (
    AgentExecutionRepository,
    ExecutionTraceRepository,
    TokenUsageRepository,
)
from aa_notebooks.db.schema import AgentExecution, ExecutionTrace, TokenUsage
from aa_notebooks.db.url import resolve_url
from aa_notebooks.errors import InvalidInputError
from aa_notebooks.pricing import recorded_cost
from aa_notebooks.tracking.outage import is_outage
from aa_notebooks.tracking.record import ExecutionRecord
from aa_notebooks.tracking.writer import BatchWriter

T = TypeVar("T")
_writers: dict[str, BatchWriter] = {}
_writers_lock = threading.Lock()


def _execution(
    agent_name: str,
    agent_type: str,
    model_name: str,
    input_tokens: int,
    output_tokens: int,
    execution_time_ms: int,
    status: str,
    error_message: str | None,
    query_preview: str | None,
    extra: dict[str, Any],
) -> AgentExecutionCreate:
    started, completed = finished_times(
        _moment(extra.pop("started_at", None), "started_at"),
        _moment(extra.pop("completed_at", None), "completed_at"),
        execution_time_ms,
    )
    computed = dict(
        request_id=extra.pop("request_id", None) or uuid.uuid4(),
        session_id=extra.pop("session_id", None) or uuid.uuid4(),
        agent_name=agent_name,
        agent_type=agent_type,
        model_name=model_name,
        status=status,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=input_tokens + output_tokens,
        execution_time_ms=execution_time_ms,
        cost_usd=recorded_cost(model_name, input_tokens, output_tokens, at=started).cost_usd,
        query_preview=query_preview,
        error_message=error_message,
        started_at=started,
        completed_at=completed,
    )
    return validated(AgentExecutionCreate, {**computed, **extra})  # a column given wins


def _moment(value: object, name: str) -> datetime | None:
    """A time given to a recording function (aware, or naive and then UTC, or its ISO 8601
    text) as a datetime; InvalidInputError for anything else."""
    if value is None:
        return None
    moment = value
    if isinstance(value, str):
        with suppress(ValueError):  # not a time: said below
            moment = datetime.fromisoformat(value)
    if not isinstance(moment, datetime):
        raise InvalidInputError(f"{name} must be a datetime (or its ISO 8601 text), got {value!r}")
    return moment


async def track_agent_execution(
    db_session: AsyncSession,
    user_id: str | uuid.UUID | None,
    agent_name: str,
    agent_type: str,
    model_name: str,
    input_tokens: int,
    output_tokens: int,
    execution_time_ms: int,
    status: str = "success",
    error_message: str | None = None,
    query_preview: str | None = None,
    **extra: Any,
) -> AgentExecution:
    """Record an agent execution (the data contract's example); `extra` takes any other column,
    or one computed here (cost_usd, total_tokens) with the value to store instead."""
    record = _execution(
        agent_name, agent_type, model_name, input_tokens, output_tokens, execution_time_ms,
        status, error_message, query_preview, extra,
    )  # fmt: skip
    row = _execution_row(record, user_id)
    return await _recorded_async(
        db_session,
        lambda: db_session.run_sync(_insert_counting_spend, record, user_id),
        ExecutionRecord(row),
        lambda: AgentExecution(**row),
    )


def track_agent_execution_sync(
    db_session: Session,
    user_id: str | uuid.UUID | None,
    agent_name: str,
    agent_type: str,
    model_name: str,
    input_tokens: int,
    output_tokens: int,
    execution_time_ms: int,
    status: str = "success",
    error_message: str | None = None,
    query_preview: str | None = None,
    **extra: Any,
) -> AgentExecution:
    """`track_agent_execution` for a plain (sync) Session."""
    record = _execution(
        agent_name, agent_type, model_name, input_tokens, output_tokens, execution_time_ms,
        status, error_message, query_preview, extra,
    )  # fmt: skip
    row = _execution_row(record, user_id)
    return _recorded(
        db_session,
        lambda: _insert_counting_spend(db_session, record, user_id),
        ExecutionRecord(row),
        lambda: AgentExecution(**row),
    )


def _insert_counting_spend(
    session: Session, record: AgentExecutionCreate, user_id: str | uuid.UUID | None
) -> AgentExecution:
    """Insert the execution and add its cost to the budgets' spend in one transaction, commit,
    then have the alerts it fired delivered from a background thread (never in the caller's)."""
    repository = AgentExecutionRepository(session)
    execution: AgentExecution = repository.create(record, user_id=user_id, commit=False)
    owner = None if user_id is None else uuid.UUID(str(user_id))
    fired = apply_spend(session.connection(), [{**record.model_dump(), "user_id": owner}])
    session.commit()
    if fired:
        deliver_in_background(session.get_bind().engine.url)
    return execution


def _trace(
    execution_id: str | uuid.UUID,
    step_number: int,
    step_type: str,
    content: str | None,
    duration_ms: int,
    input_tokens: int,
    output_tokens: int,
) -> ExecutionTraceCreate:
    return validated(
        ExecutionTraceCreate,
        dict(
            execution_id=execution_id,
            step_number=step_number,
            step_type=step_type,
            content=content,
            duration_ms=duration_ms,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
        ),
    )


async def record_trace_step(
    db_session: AsyncSession,
    execution_id: str | uuid.UUID,
    step_number: int,
    step_type: str,
    content: str | None,
    duration_ms: int,
    input_tokens: int = 0,
    output_tokens: int = 0,
) -> ExecutionTrace:
    """Record one step of the ReAct loop (the data contract's example)."""
    trace = _trace(execution_id, step_number, step_type, content, duration_ms, input_tokens,
                   output_tokens)  # fmt: skip
    row = _child_row(trace)
    return await _recorded_async(
        db_session,
        lambda: ExecutionTraceRepository(db_session).create(trace),
        ExecutionRecord({"id": trace.execution_id}, traces=(row,), attach=True),
        lambda: ExecutionTrace(**row),
    )


def record_trace_step_sync(
    db_session: Session,
    execution_id: str | uuid.UUID,
    step_number: int,
    step_type: str,
    content: str | None,
    duration_ms: int,
    input_tokens: int = 0,
    output_tokens: int = 0,
) -> ExecutionTrace:
    """`record_trace_step` for a plain (sync) Session."""
    trace = _trace(execution_id, step_number, step_type, content, duration_ms, input_tokens,
                   output_tokens)  # fmt: skip
    row = _child_row(trace)
    recorded: ExecutionTrace = _recorded(
        db_session,
        lambda: ExecutionTraceRepository(db_session).create(trace),
        ExecutionRecord({"id": trace.execution_id}, traces=(row,), attach=True),
        lambda: ExecutionTrace(**row),
    )
    return recorded


def _usage(
    execution_id: str | uuid.UUID,
    component: str | None,
    model: str | None,
    input_tokens: int,
    output_tokens: int,
    step_number: int | None,
    parts: Mapping[str, int | None],
) -> TokenUsageCreate:
    fields = dict(
        execution_id=execution_id,
        component=component,
        model=model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        step_number=step_number,
        **parts,
    )
    validated(TokenUsageCreate, {**fields, "cost_usd": 0})  # counts first, then the price
    priced = recorded_cost(
        model, input_tokens, output_tokens,
        cache_read_tokens=parts["cache_read_tokens"],
        cache_write_tokens=parts["cache_write_tokens"],
        reasoning_tokens=parts["reasoning_tokens"],
    )  # fmt: skip
    return validated(
        TokenUsageCreate,
        {**fields, "cost_usd": priced.cost_usd, **priced.provenance()},
    )


async def record_token_usage(
    db_session: AsyncSession,
    execution_id: str | uuid.UUID,
    component: str | None,
    model: str | None,
    input_tokens: int,
    output_tokens: int,
    step_number: int | None = None,
    *,
    cache_read_tokens: int | None = None,
    cache_write_tokens: int | None = None,
    reasoning_tokens: int | None = None,
) -> TokenUsage:
    """Record token usage for one component (the data contract's example), priced by its model;
    `input_tokens` includes the prompt-cache reads and writes, `output_tokens` the reasoning
    tokens, as providers report them (the cached ones cost the model's cache rates)."""
    parts = dict(cache_read_tokens=cache_read_tokens, cache_write_tokens=cache_write_tokens,
                 reasoning_tokens=reasoning_tokens)  # fmt: skip
    usage = _usage(execution_id, component, model, input_tokens, output_tokens, step_number, parts)
    row = _child_row(usage)
    return await _recorded_async(
        db_session,
        lambda: TokenUsageRepository(db_session).create(usage),
        ExecutionRecord({"id": usage.execution_id}, usages=(row,), attach=True),
        lambda: TokenUsage(**row),
    )


def record_token_usage_sync(
    db_session: Session,
    execution_id: str | uuid.UUID,
    component: str | None,
    model: str | None,
    input_tokens: int,
    output_tokens: int,
    step_number: int | None = None,
    *,
    cache_read_tokens: int | None = None,
    cache_write_tokens: int | None = None,
    reasoning_tokens: int | None = None,
) -> TokenUsage:
    """`record_token_usage` for a plain (sync) Session."""
    parts = dict(cache_read_tokens=cache_read_tokens, cache_write_tokens=cache_write_tokens,
                 reasoning_tokens=reasoning_tokens)  # fmt: skip
    usage = _usage(execution_id, component, model, input_tokens, output_tokens, step_number, parts)
    row = _child_row(usage)
    recorded: TokenUsage = _recorded(
        db_session,
        lambda: TokenUsageRepository(db_session).create(usage),
        ExecutionRecord({"id": usage.execution_id}, usages=(row,), attach=True),
        lambda: TokenUsage(**row),
    )
    return recorded


def _recorded(
    session: Session, write: Callable[[], T], record: ExecutionRecord, row: Callable[[], T]
) -> T:
    """`write()`'s row; in an outage (or behind spooled rows), the row spooled instead."""
    writer = _writer_for(session)
    if writer is not None and writer.spooling:
        return _spool(session, record, row)
    try:
        return write()
    except Exception as error:
        _rollback(session)
        if is_outage(error):
            return _spool(session, record, row, error)
        if isinstance(error, StatementError):
            raise explain_database_error(error) from None
        raise


async def _recorded_async(
    session: AsyncSession,
    write: Callable[[], Awaitable[T]],
    record: ExecutionRecord,
    row: Callable[[], T],
) -> T:
    """`_recorded` for an AsyncSession."""
    writer = _writer_for(session)
    if writer is not None and writer.spooling:
        return _spool(session, record, row)
    try:
        return await write()
    except Exception as error:
        with suppress(Exception):  # in an outage the connection is gone: nothing to roll back
            await session.rollback()
        if is_outage(error):
            return _spool(session, record, row, error)
        if isinstance(error, StatementError):
            raise explain_database_error(error) from None
        raise


def _spool(
    session: Session | AsyncSession,
    record: ExecutionRecord,
    row: Callable[[], T],
    error: BaseException | None = None,
) -> T:
    writer = _writer_for(session, create=True)
    assert writer is not None
    if error is not None:
        writer.notice.went_down(error, f"recorded rows are spooled in {writer.spool.directory}")
    writer.submit(record)
    return row()


def _rollback(session: Session) -> None:
    with suppress(Exception):  # the connection is gone: nothing to roll back
        session.rollback()


def _writer_for(session: Session | AsyncSession, create: bool = False) -> BatchWriter | None:
    """The background writer that spools this session's database (made on first need)."""
    url = session.get_bind().engine.url.render_as_string(hide_password=False)
    writer = _writers.get(url)
    if writer is None and create:
        with _writers_lock:
            writer = _writers.get(url)
            if writer is None:
                writer = _writers[url] = BatchWriter(resolve_url(url))
    return writer


def _execution_row(record: AgentExecutionCreate, user_id: str | uuid.UUID | None) -> dict[str, Any]:
    """The execution as the tracker's rows are: every column, enums as their text."""
    row = _plain(record.model_dump())
    row["user_id"] = None if user_id is None else uuid.UUID(str(user_id))
    return row


def _child_row(record: ExecutionTraceCreate | TokenUsageCreate) -> dict[str, Any]:
    """A step or usage as the tracker's rows are; a step's time is now when not given."""
    row = _plain(record.model_dump())
    if "timestamp" in row and row["timestamp"] is None:
        row["timestamp"] = datetime.now(UTC)
    return row


def _plain(row: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value.value if isinstance(value, Enum) else value for name, value in row.items()}
