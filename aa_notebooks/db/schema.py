"""The data contract's tables and enum types, as SQLAlchemy 2 models.

Table, column and enum names are the data contract's exactly, so the kit can read a GenAI AgentOS
database it did not create. Columns the data contract lacks (a budget's name and target, an
execution's flow) are nullable additions; `check_db` tells when an attached database lacks them.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Table,
    TypeDecorator,
    Uuid,
    false,
    func,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.operators import OperatorType

from aa_notebooks.db.bulk import storage_timestamp
from aa_notebooks.db.stored_uuid import StoredUuid


class ExecutionStatus(enum.StrEnum):
    """How an agent execution ended."""

    success = "success"
    failure = "failure"
    timeout = "timeout"


class ExecutionTraceStepType(enum.StrEnum):
    """One step of a ReAct loop."""

    thought = "thought"
    action = "action"
    observation = "observation"
    tool_call = "tool_call"
    final_answer = "final_answer"


class BudgetScope(enum.StrEnum):
    """Which executions a budget counts."""

    user = "user"
    agent = "agent"
    flow = "flow"
    global_ = "global"


class BudgetAlertType(enum.StrEnum):
    """warning notifies; hard_stop also refuses new executions once the threshold is reached."""

    warning = "warning"
    hard_stop = "hard_stop"


def _pg_enum(enum_cls: type[enum.Enum], name: str) -> Enum:
    """An enum stored by value under the data contract's type name (native type on PostgreSQL)."""
    return Enum(
        enum_cls,
        name=name,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
        length=16,
    )


class UTCDateTime(TypeDecorator[datetime]):
    """TIMESTAMP WITHOUT TIME ZONE holding UTC, as the data contract's DDL has it.

    Aware datetimes are converted to UTC before storage; values read back are aware (UTC).
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    class comparator_factory(TypeDecorator.Comparator[datetime]):
        """`>=` and `<` compare with a `RangeBound`: right on SQLite whatever text form a row's
        time has (windows and buckets are all [lower, upper) ranges)."""

        def operate(self, op: OperatorType, *other: Any, **kwargs: Any) -> ColumnElement[Any]:
            if op in (operators.ge, operators.lt) and len(other) == 1:
                other = (_range_bound(self.expr, op, other[0]),)
            elif op is operators.between_op and len(other) == 2:  # >= lower AND <= upper
                other = (_range_bound(self.expr, operators.ge, other[0]), other[1])
            return super().operate(op, *other, **kwargs)


class RangeBound(UTCDateTime):
    """A time that starts or ends a range, bound so that SQLite's text comparison is right.

    SQLite holds times as text, compared character by character. The kit writes them with six
    fraction digits, as SQLAlchemy does; other programs write whole seconds without a fraction
    (`DEFAULT CURRENT_TIMESTAMP`, Python's sqlite3 adapter) or fewer digits (milliseconds). Such
    a row exactly on a bound written with six digits sorts before it ("10:00:00" <
    "10:00:00.000000"), so it would fall in the hour before. The bound is sent in its shortest
    form, without trailing zeros ("10:00:00", "10:00:00.5"): every form of the same time then
    has it as a prefix, so compares as not less, and every earlier time differs at a digit it
    has, so compares as less, which is what `>=` and `<` need. (`>` and `<=` need the longest
    form, the default: a time equal to it is never longer.)
    """

    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        fallback = super().bind_processor(dialect)

        def process(value: Any) -> Any:
            if not isinstance(value, datetime):
                return fallback(value) if fallback else value
            return storage_timestamp(value).rstrip("0").rstrip(".")

        return process


def _range_bound(column: Any, op: OperatorType, value: Any) -> Any:
    """`value` bound as a `RangeBound` when it is a time or an untyped (or time) parameter."""
    if isinstance(value, datetime):
        return column._bind_param(op, value, type_=_RANGE_BOUND)
    if isinstance(value, BindParameter) and (value.type._isnull or type(value.type) is UTCDateTime):
        return value._with_binary_element_type(_RANGE_BOUND)
    return value


_RANGE_BOUND = RangeBound()


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of the kit's models."""


def table_of(model: type[Base]) -> Table:
    """A model's table, typed as the Table it is (SQLAlchemy types `__table__` as FromClause)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


class User(Base):
    """The data contract references users(id); the kit needs only the id and a display name."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(StoredUuid, primary_key=True, default=uuid.uuid4)
    username: Mapped[str | None] = mapped_column(String)
    email: Mapped[str | None] = mapped_column(String)


class AgentExecution(Base):
    """One agent invocation: status, tokens, cost and timing."""

    __tablename__ = "agentexecutions"

    id: Mapped[uuid.UUID] = mapped_column(StoredUuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID | None] = mapped_column(StoredUuid, ForeignKey("users.id"))
    request_id: Mapped[uuid.UUID] = mapped_column(StoredUuid, nullable=False)
    session_id: Mapped[uuid.UUID] = mapped_column(StoredUuid, nullable=False)
    agent_id: Mapped[uuid.UUID | None] = mapped_column(StoredUuid)
    agent_name: Mapped[str | None] = mapped_column(String)
    agent_type: Mapped[str | None] = mapped_column(String)
    model_name: Mapped[str | None] = mapped_column(String)
    status: Mapped[ExecutionStatus] = mapped_column(
        _pg_enum(ExecutionStatus, "executionstatus"), nullable=False
    )
    input_tokens: Mapped[int | None] = mapped_column(Integer, default=0, server_default="0")
    output_tokens: Mapped[int | None] = mapped_column(Integer, default=0, server_default="0")
    total_tokens: Mapped[int | None] = mapped_column(Integer, default=0, server_default="0")
    cost_usd: Mapped[Decimal | None] = mapped_column(
        Numeric(10, 6), default=Decimal(0), server_default="0"
    )
    execution_time_ms: Mapped[int | None] = mapped_column(Integer, default=0, server_default="0")
    llm_time_ms: Mapped[int | None] = mapped_column(Integer, default=0, server_default="0")
    query_preview: Mapped[str | None] = mapped_column(String)
    error_type: Mapped[str | None] = mapped_column(String)
    error_message: Mapped[str | None] = mapped_column(String)
    started_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, default=utcnow, server_default=func.now()
    )
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Addition: the workflow this execution belongs to, for flow-scoped budgets.
    flow_id: Mapped[str | None] = mapped_column(String)

    __table_args__ = (
        # Covering indexes: the dashboard aggregates read only the index, not the table.
        # Covering indexes, measured at 1M rows (bench/analytics.py): with both, the full
        # dashboard set on SQLite takes 0.8 s instead of 1.5 s. The narrow one serves the time
        # series and percentile scans; the wide one makes the 7-day dashboard queries index-only.
        Index(
            "ix_agentexecutions_started_at_cover",
            "started_at",
            "status",
            "execution_time_ms",
            "cost_usd",
        ),
        Index(
            "ix_agentexecutions_dashboard_cover",
            "started_at",
            "status",
            "execution_time_ms",
            "cost_usd",
            "model_name",
            "agent_id",
            "agent_name",
            "input_tokens",
            "output_tokens",
            "total_tokens",
        ),
        # Cost by model joins the window's executions to their usage rows: with this index and
        # the usage rows' covering one, both sides of the join are read from indexes alone.
        Index("ix_agentexecutions_started_at_id", "started_at", "id", "model_name"),
        Index("ix_agentexecutions_user_started_at", "user_id", "started_at"),
        Index("ix_agentexecutions_agent_name", "agent_name", "started_at"),
        Index("ix_agentexecutions_agent_id", "agent_id", "started_at"),
        # The executions grid sorts by cost, duration or tokens and reads a range deep in the
        # list by seeking through (column, id); started_at lets the window be checked in the
        # index. Without them a page sorted by cost at 1M rows sorts the window: 0.6-8 s.
        Index("ix_agentexecutions_cost_usd_id", "cost_usd", "id", "started_at"),
        Index("ix_agentexecutions_execution_time_ms_id", "execution_time_ms", "id", "started_at"),
        Index("ix_agentexecutions_total_tokens_id", "total_tokens", "id", "started_at"),
        # `tail` reads only the executions completed after a (completed_at, id) mark.
        Index("ix_agentexecutions_completed_at_id", "completed_at", "id"),
    )


class ExecutionTrace(Base):
    """One ReAct step of an execution."""

    __tablename__ = "executiontraces"

    id: Mapped[uuid.UUID] = mapped_column(StoredUuid, primary_key=True, default=uuid.uuid4)
    execution_id: Mapped[uuid.UUID | None] = mapped_column(
        StoredUuid, ForeignKey("agentexecutions.id", ondelete="CASCADE")
    )
    step_number: Mapped[int] = mapped_column(Integer, nullable=False)
    step_type: Mapped[ExecutionTraceStepType] = mapped_column(
        _pg_enum(ExecutionTraceStepType, "executiontracesteptype"), nullable=False
    )
    content: Mapped[str | None] = mapped_column(String)
    input_tokens: Mapped[int | None] = mapped_column(Integer, default=0, server_default="0")
    output_tokens: Mapped[int | None] = mapped_column(Integer, default=0, server_default="0")
    duration_ms: Mapped[int | None] = mapped_column(Integer, default=0, server_default="0")
    timestamp: Mapped[datetime | None] = mapped_column(
        UTCDateTime, default=utcnow, server_default=func.now()
    )
    # Additions: where the step sits in a tree of steps (ingested traces nest: a sub-agent's
    # calls under its step). The step_number of the enclosing step, and how deep it is (0: top).
    parent_step: Mapped[int | None] = mapped_column(Integer)
    depth: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (Index("ix_executiontraces_execution_id", "execution_id", "step_number"),)


class TokenUsage(Base):
    """Tokens and cost of one component (main agent, sub agent, tool call) of an execution."""

    __tablename__ = "tokenusages"

    id: Mapped[uuid.UUID] = mapped_column(StoredUuid, primary_key=True, default=uuid.uuid4)
    execution_id: Mapped[uuid.UUID | None] = mapped_column(
        StoredUuid, ForeignKey("agentexecutions.id", ondelete="CASCADE")
    )
    component: Mapped[str | None] = mapped_column(String)
    model: Mapped[str | None] = mapped_column(String)
    input_tokens: Mapped[int] = mapped_column(Integer, nullable=False)
    output_tokens: Mapped[int] = mapped_column(Integer, nullable=False)
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(10, 6), nullable=False)
    step_number: Mapped[int | None] = mapped_column(Integer)
    # Additions: input tokens read from and written to the provider's prompt cache (part of
    # input_tokens) and reasoning tokens (part of output_tokens), where the call reported them;
    # NULL when it did not.
    cache_read_tokens: Mapped[int | None] = mapped_column(Integer)
    cache_write_tokens: Mapped[int | None] = mapped_column(Integer)
    reasoning_tokens: Mapped[int | None] = mapped_column(Integer)
    # Which price made cost_usd: the price table's version ("genai-prices 0.2.3", "price file
    # prices.toml") and the day that price took effect (ISO text); NULL when unpriced or unknown.
    price_source: Mapped[str | None] = mapped_column(String(64))
    price_date: Mapped[str | None] = mapped_column(String(10))

    __table_args__ = (
        # Covering: cost by model reads each execution's usage rows from the index alone (the
        # columns after execution_id were added for it; lookups by execution use it as before).
        Index(
            "ix_tokenusages_execution_id",
            "execution_id",
            "model",
            "cost_usd",
            "input_tokens",
            "output_tokens",
        ),
    )


class BudgetAlert(Base):
    """A spending threshold over a rolling window, per scope."""

    __tablename__ = "budgetalerts"

    id: Mapped[uuid.UUID] = mapped_column(StoredUuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        StoredUuid, ForeignKey("users.id", ondelete="CASCADE")
    )
    scope: Mapped[BudgetScope] = mapped_column(_pg_enum(BudgetScope, "budgetscope"), nullable=False)
    threshold_usd: Mapped[Decimal] = mapped_column(Numeric(10, 2), nullable=False)
    period_days: Mapped[int | None] = mapped_column(Integer, default=30, server_default="30")
    alert_type: Mapped[BudgetAlertType] = mapped_column(
        _pg_enum(BudgetAlertType, "budgetalerttype"), nullable=False
    )
    alert_at_percentage: Mapped[int | None] = mapped_column(
        Integer, default=80, server_default="80"
    )
    is_active: Mapped[bool | None] = mapped_column(Boolean, default=True, server_default=true())
    email_notification: Mapped[bool | None] = mapped_column(
        Boolean, default=True, server_default=true()
    )
    current_spend_usd: Mapped[Decimal | None] = mapped_column(
        Numeric(10, 2), default=Decimal(0), server_default="0"
    )
    # Additions: a readable name, the agent (id or name) or flow an agent/flow budget watches,
    # and more warning levels than alert_at_percentage ("50,90": percents, comma-separated).
    name: Mapped[str | None] = mapped_column(String)
    target: Mapped[str | None] = mapped_column(String)
    alert_levels: Mapped[str | None] = mapped_column(String(64))
    # True: a template that applies to every user separately (scope user, no user_id).
    per_user: Mapped[bool | None] = mapped_column(Boolean)


class BudgetAlertEvent(Base):
    """The kit's own record of a budget crossing its alert percentage or its threshold."""

    __tablename__ = "budgetalertevents"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    budget_id: Mapped[uuid.UUID] = mapped_column(  # as its budget's id is stored (SQLite)
        StoredUuid, ForeignKey("budgetalerts.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # "warning" or "exceeded"
    # The level reached, in percent of the threshold (NULL in events recorded before levels).
    level_pct: Mapped[int | None] = mapped_column(Integer)
    # The user whose spend fired it, for a per-user budget (NULL for every other budget).
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    spend_usd: Mapped[Decimal] = mapped_column(Numeric(12, 6), nullable=False)
    threshold_usd: Mapped[Decimal] = mapped_column(Numeric(10, 2), nullable=False)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    notified: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # True once posted to AA_ALERT_WEBHOOKS, or when it was delivered with no webhook configured
    # (so that configuring one later does not post every old alert).
    webhook_notified: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # True when its budget's email_notification was off as it fired: no channel ever sends it.
    muted: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )  # the default in the table too: a writer of an earlier release leaves it out

    __table_args__ = (Index("ix_budgetalertevents_budget_id", "budget_id", "fired_at"),)


class BudgetSpendLedger(Base):
    """Exact spend (micro-USD) of the executions of one scope key that started in one UTC hour."""

    __tablename__ = "budgetspendledger"

    scope: Mapped[str] = mapped_column(String(8), primary_key=True)
    scope_key: Mapped[str] = mapped_column(String, primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    spend_micro_usd: Mapped[int] = mapped_column(BigInteger, nullable=False)


ANOMALY_KEY_LENGTH = 600
"""Of an anomaly's key, "by|group|metric|day" (`budgets.anomaly_alerts.anomaly_key`)."""


class AnomalyAlertSent(Base):
    """The kit's record of an anomaly already alerted, per channel, so each goes out once."""

    __tablename__ = "anomalyalertssent"

    key: Mapped[str] = mapped_column(String(ANOMALY_KEY_LENGTH), primary_key=True)
    day: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    found_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    # True once emailed / posted, or when the channel was not configured when it was found
    # (so that configuring one later does not send every old anomaly).
    emailed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    posted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class KitMetadata(Base):
    """Marks a database the kit created (and so may extend); holds the schema version."""

    __tablename__ = "aa_notebooks_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String, nullable=False)


class ApiToken(Base):
    """A bearer token of the HTTP API: an admin's, or one user's. Only its SHA-256 is stored."""

    __tablename__ = "apitokens"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str | None] = mapped_column(String)
    is_admin: Mapped[bool] = mapped_column(Boolean, nullable=False)
    # The user whose data a user token sees; not a foreign key: an attached database's users
    # table is not the kit's to extend, and a token may name a user before their first run.
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    token_sha256: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # Exactly one of: an admin token, or a user token naming its user.
        CheckConstraint("(user_id IS NULL) = is_admin", name="ck_apitokens_admin_or_user"),
    )


class RunningExecution(Base):
    """A run in flight: written by its tracker's writer soon after it starts, its heartbeat
    renewed while its process lives, deleted in the transaction that stores its execution.

    The data contract's tables keep their status enum (a run is stored once, when it ends); a row
    here whose heartbeat stopped belongs to a process that died (see `tracking.in_flight`).
    """

    __tablename__ = "runningexecutions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    request_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    session_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    agent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    agent_name: Mapped[str | None] = mapped_column(String)
    agent_type: Mapped[str | None] = mapped_column(String)
    model_name: Mapped[str | None] = mapped_column(String)
    flow_id: Mapped[str | None] = mapped_column(String)
    query_preview: Mapped[str | None] = mapped_column(String)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # How often this row's writer renews heartbeat_at: readers call a run lost after missing a
    # few, whatever interval its process was configured with.
    heartbeat_every_s: Mapped[float] = mapped_column(Float, nullable=False)
    writer_id: Mapped[str] = mapped_column(String(36), nullable=False)
    host: Mapped[str | None] = mapped_column(String)
    pid: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_runningexecutions_heartbeat_at", "heartbeat_at"),
        Index("ix_runningexecutions_writer_id", "writer_id"),
    )


class OtelStagedSpan(Base):
    """A span of a trace the OTLP ingest has not written yet (or keeps for late spans), as JSON.

    Keyed by who sent it (`owner`: "admin" or a user id), so one caller's spans never join
    another's trace.
    """

    __tablename__ = "otelstagedspans"

    owner: Mapped[str] = mapped_column(String(36), primary_key=True)
    trace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    span_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    span: Mapped[str] = mapped_column(String, nullable=False)


class OtelStagedTrace(Base):
    """A trace with staged spans: when its spans last arrived, and what was written of it."""

    __tablename__ = "otelstagedtraces"

    owner: Mapped[str] = mapped_column(String(36), primary_key=True)
    trace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    written_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The execution ids last written from this trace, space-separated: a rewrite replaces them.
    written_ids: Mapped[str | None] = mapped_column(String)

    __table_args__ = (Index("ix_otelstagedtraces_last_seen", "last_seen"),)


class _RollupKey:
    """A rollup row's key: the hour or day its rows started in, and a digest of its dimensions
    (NULLs included, which a unique key would not compare as equal), the user among them."""

    # first in every rollup table, as their own columns would otherwise come before them
    bucket: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True, sort_order=-3)
    dims_key: Mapped[str] = mapped_column(String(32), primary_key=True, sort_order=-2)
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, sort_order=-1)


class _ExecutionSums:
    """What the execution and latency rollups sum of their executions: how many, how many report
    a duration and its sum, input and output tokens (and how many report them), total tokens,
    cost."""

    executions: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    time_count: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    time_sum: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    input_count: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    input_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    output_count: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    output_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    total_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    cost_micro_usd: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")


class _ExecutionRollup(_RollupKey, _ExecutionSums):
    """Executions of one (user, agent, model, status, flow) that started in one hour or day."""

    agent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    agent_name: Mapped[str | None] = mapped_column(String)
    model_name: Mapped[str | None] = mapped_column(String)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    flow_id: Mapped[str | None] = mapped_column(String)
    latency_sketch: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, sort_order=1)
    """execution_time_ms as a mergeable sketch (aa_notebooks.db.rollups.sketch); last, so that
    SQLite reads the sums before it (a long sketch spills to overflow pages)."""


class ExecutionRollupHour(_ExecutionRollup, Base):
    """Hourly rollup of the executions (kept by the write paths; `aa-notebooks rollups`)."""

    __tablename__ = "rollup_executions_hour"


class ExecutionRollupDay(_ExecutionRollup, Base):
    """Daily rollup of the executions: a 90-day window reads 90 buckets, not 2,160."""

    __tablename__ = "rollup_executions_day"


class _StatusSums(_ExecutionSums):
    """The execution sums with each status's count as a column, and the latency sketch: what a
    rollup without the status and flow dimensions holds."""

    latency_sketch: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, sort_order=1)
    """execution_time_ms as a mergeable sketch (aa_notebooks.db.rollups.sketch); last, so that
    SQLite reads the sums before it (a long sketch spills to overflow pages)."""
    success_executions: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    failure_executions: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    timeout_executions: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")


class _LatencyRollup(_RollupKey, _StatusSums):
    """One (user, agent, model)'s executions that started in one hour or day: the execution
    rollups without their status and flow, so the dashboard's (agent, model) sums and
    percentiles read a fifth of the rows. A migration adds the sums to older databases (after
    the sketch there). The sums default to 0, so that an earlier release's writer, which leaves
    them out, still inserts its rows."""

    agent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    agent_name: Mapped[str | None] = mapped_column(String)
    model_name: Mapped[str | None] = mapped_column(String)


class LatencyRollupHour(_LatencyRollup, Base):
    """Hourly sums and latency sketches per (user, agent, model)."""

    __tablename__ = "rollup_latency_hour"


class LatencyRollupDay(_LatencyRollup, Base):
    """Daily sums and latency sketches per (user, agent, model)."""

    __tablename__ = "rollup_latency_day"


class _TotalRollup(_RollupKey, _StatusSums):
    """All of one user's executions that started in one hour or day: the latency rollups
    without agent and model, so the time series and the window's percentiles merge one sketch
    per user and bucket instead of one per (agent, model)."""


class TotalRollupHour(_TotalRollup, Base):
    """Hourly sums and latency sketches per user."""

    __tablename__ = "rollup_totals_hour"


class TotalRollupDay(_TotalRollup, Base):
    """Daily sums and latency sketches per user."""

    __tablename__ = "rollup_totals_day"


class _CacheRollup(_RollupKey):
    """Input and prompt-cache tokens of every usage row of one (user, model), per hour or day of
    its execution's start: what the prompt cache figures sum (`analytics.caching`)."""

    model: Mapped[str | None] = mapped_column(String)
    input_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False)
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False)
    cache_write_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False)


class CacheRollupHour(_CacheRollup, Base):
    """Hourly input and prompt-cache tokens per (user, model)."""

    __tablename__ = "rollup_cache_hour"


class CacheRollupDay(_CacheRollup, Base):
    """Daily input and prompt-cache tokens per (user, model)."""

    __tablename__ = "rollup_cache_day"


class _UsageRollup(_RollupKey):
    """Usage rows of one model in executions of another model, per user and hour or day: what
    cost by model moves from the execution's model to the row's (`analytics.model_split`)."""

    row_model: Mapped[str | None] = mapped_column(String)
    execution_model: Mapped[str | None] = mapped_column(String)
    executions: Mapped[int] = mapped_column(BigInteger, nullable=False)
    """Executions with such rows (each counted once per row model)."""
    input_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False)
    output_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False)
    cost_micro_usd: Mapped[int] = mapped_column(BigInteger, nullable=False)


class UsageRollupHour(_UsageRollup, Base):
    """Hourly rollup of the usage rows whose model is not their execution's."""

    __tablename__ = "rollup_usage_hour"


class UsageRollupDay(_UsageRollup, Base):
    """Daily rollup of the usage rows whose model is not their execution's."""

    __tablename__ = "rollup_usage_day"


class RollupDirtyHour(Base):
    """An hour whose rows changed behind the rollups (a delete, an update, another program's
    insert, recorded by triggers): read raw until `aa-notebooks rollups rebuild` repairs it."""

    __tablename__ = "rollup_dirty_hours"

    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)


class RollupWriting(Base):
    """Holds a row only inside a kit write path's transaction (SQLite), so the marking triggers
    skip the rows that path adds to the rollups itself; no other connection ever sees the row."""

    __tablename__ = "rollup_writing"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)


class BudgetGeneration(Base):
    """One row counting changes to the budgets' definitions (bumped by triggers on budgetalerts,
    `db.budget_generation`): a process keeps the hard-stop budgets in memory while it stands."""

    __tablename__ = "budgetgeneration"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, nullable=False)


LATENCY_ROLLUP_TABLES = ("rollup_latency_hour", "rollup_latency_day")
TOTAL_ROLLUP_TABLES = ("rollup_totals_hour", "rollup_totals_day")
CACHE_ROLLUP_TABLES = ("rollup_cache_hour", "rollup_cache_day")
ROLLUP_TABLES = (
    "rollup_executions_hour",
    "rollup_executions_day",
    "rollup_usage_hour",
    "rollup_usage_day",
    "rollup_latency_hour",
    "rollup_latency_day",
    "rollup_cache_hour",
    "rollup_cache_day",
    "rollup_totals_hour",
    "rollup_totals_day",
    "rollup_dirty_hours",
    "rollup_writing",
)

DOCUMENT_TABLES = ("users", "agentexecutions", "executiontraces", "tokenusages", "budgetalerts")
