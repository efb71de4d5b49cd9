"""The product document's three recording functions, for AsyncSession, with sync twins.

The async ones keep the document's names and parameters, so its integration guide runs as
written; the `_sync` twins take a plain Session. Costs come from `calculate_cost`. An execution
counts towards budgets in the transaction that inserts it (`apply_spend`), as the tracker's do,
so a hard stop refuses the next check after its commit; alerts it fires are emailed then.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from aa_notebooks.budgets.delivery import deliver_pending
from aa_notebooks.budgets.recording import apply_spend
from aa_notebooks.db.records import (
    AgentExecutionCreate,
    ExecutionTraceCreate,
    TokenUsageCreate,
)
from aa_notebooks.db.repositories import (
    AgentExecutionRepository,
    ExecutionTraceRepository,
    TokenUsageRepository,
)
from aa_notebooks.db.schema import AgentExecution, ExecutionTrace, TokenUsage
from aa_notebooks.pricing import calculate_cost


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
    completed = extra.pop("completed_at", None) or datetime.now(UTC)
    started = extra.pop("started_at", None) or completed - timedelta(milliseconds=execution_time_ms)
    return AgentExecutionCreate(
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
        cost_usd=calculate_cost(model_name, input_tokens, output_tokens),
        query_preview=query_preview,
        error_message=error_message,
        started_at=started,
        completed_at=completed,
        **extra,
    )


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
    """Record an agent execution (the document's example); `extra` takes any other column."""
    record = _execution(
        agent_name, agent_type, model_name, input_tokens, output_tokens, execution_time_ms,
        status, error_message, query_preview, extra,
    )  # fmt: skip
    return await db_session.run_sync(_insert_counting_spend, record, user_id)


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
    return _insert_counting_spend(db_session, record, user_id)


def _insert_counting_spend(
    session: Session, record: AgentExecutionCreate, user_id: str | uuid.UUID | None
) -> AgentExecution:
    """Insert the execution and add its cost to the budgets' spend in one transaction, commit,
    then email the alerts it fired (none when email is not configured)."""
    execution = AgentExecutionRepository(session).create(record, user_id=user_id, commit=False)
    owner = None if user_id is None else uuid.UUID(str(user_id))
    fired = apply_spend(session.connection(), [{**record.model_dump(), "user_id": owner}])
    session.commit()
    if fired:
        deliver_pending(session.get_bind(), None)
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
    return ExecutionTraceCreate(
        execution_id=execution_id,
        step_number=step_number,
        step_type=step_type,
        content=content,
        duration_ms=duration_ms,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
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
    """Record one step of the ReAct loop (the document's example)."""
    trace = _trace(execution_id, step_number, step_type, content, duration_ms, input_tokens,
                   output_tokens)  # fmt: skip
    return await ExecutionTraceRepository(db_session).create(trace)


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
    return ExecutionTraceRepository(db_session).create(trace)


def _usage(
    execution_id: str | uuid.UUID,
    component: str | None,
    model: str | None,
    input_tokens: int,
    output_tokens: int,
    step_number: int | None,
) -> TokenUsageCreate:
    return TokenUsageCreate(
        execution_id=execution_id,
        component=component,
        model=model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_usd=calculate_cost(model, input_tokens, output_tokens),
        step_number=step_number,
    )


async def record_token_usage(
    db_session: AsyncSession,
    execution_id: str | uuid.UUID,
    component: str | None,
    model: str | None,
    input_tokens: int,
    output_tokens: int,
    step_number: int | None = None,
) -> TokenUsage:
    """Record token usage for one component (the document's example)."""
    usage = _usage(execution_id, component, model, input_tokens, output_tokens, step_number)
    return await TokenUsageRepository(db_session).create(usage)


def record_token_usage_sync(
    db_session: Session,
    execution_id: str | uuid.UUID,
    component: str | None,
    model: str | None,
    input_tokens: int,
    output_tokens: int,
    step_number: int | None = None,
) -> TokenUsage:
    """`record_token_usage` for a plain (sync) Session."""
    usage = _usage(execution_id, component, model, input_tokens, output_tokens, step_number)
    return TokenUsageRepository(db_session).create(usage)
