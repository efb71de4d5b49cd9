"""Validated input records, named as the data contract names them (`AgentExecutionCreate`...).

They reject what would corrupt the numbers (negative tokens or durations, counts past INTEGER's
range, costs past NUMERIC(10,6), unknown enum values, inconsistent totals) with pydantic's
field-by-field messages, and cut `query_preview` to 100 characters as the data contract does.
`validated` turns those messages into one InvalidInputError line.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Self, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)

from aa_notebooks.db.schema import (
    BudgetAlertType,
    BudgetScope,
    ExecutionStatus,
    ExecutionTraceStepType,
)
from aa_notebooks.errors import InvalidInputError
from aa_notebooks.validation import as_utc, storable_text

QUERY_PREVIEW_LENGTH = 100
INTEGER_MAX = 2**31 - 1
"""The largest value of an INTEGER column (tokens, durations, step numbers)."""

Count = Annotated[int, Field(ge=0, le=INTEGER_MAX)]


def _float_to_micros(value: Any) -> Any:
    """A float cost to the micro-dollar (what the column keeps): 0.1 + 0.2 is
    0.30000000000000004, refused for its 17 digits when 0.3 was meant. A Decimal or text with
    more places is still refused: its precision was given on purpose; so is a float too large
    for the column (quantizing 1e22 would overflow the decimal context)."""
    if isinstance(value, float) and math.isfinite(value) and abs(value) < 1e12:
        return Decimal(repr(value)).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
    return value


Money = Annotated[
    Decimal, BeforeValidator(_float_to_micros), Field(ge=0, max_digits=10, decimal_places=6)
]
RecordT = TypeVar("RecordT", bound=BaseModel)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", use_enum_values=False, frozen=True)


class _Recorded(_Record):
    """What agents record: their text is kept as both databases can store it (a tool's binary
    output with a NUL in it, half an emoji), not refused with the whole run."""

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable_text(value) if isinstance(value, str) else value


_AHEAD = timedelta(days=1)
"""How far past this host's clock a run may be stamped (another host's clock may run ahead);
a time beyond is a mistake (a "never" sentinel of year 9999), and would file the run far off."""


class AgentExecutionCreate(_Recorded):
    """One execution to record; `id` is generated when absent (and makes replays idempotent)."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    user_id: uuid.UUID | None = None
    request_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    session_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    agent_id: uuid.UUID | None = None
    agent_name: str | None = None
    agent_type: str | None = None
    model_name: str | None = None
    flow_id: str | None = None
    status: ExecutionStatus
    input_tokens: Count = 0
    output_tokens: Count = 0
    total_tokens: Count | None = None
    cost_usd: Money = Decimal(0)
    execution_time_ms: Count = 0
    llm_time_ms: Count = 0
    query_preview: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None

    @field_validator("query_preview")
    @classmethod
    def _cut_preview(cls, value: str | None) -> str | None:
        return value[:QUERY_PREVIEW_LENGTH] if value else value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        expected = self.input_tokens + self.output_tokens
        if self.total_tokens is None:
            object.__setattr__(self, "total_tokens", expected)
        elif self.total_tokens != expected:
            raise ValueError(
                f"total_tokens ({self.total_tokens}) must equal input_tokens + output_tokens "
                f"({self.input_tokens} + {self.output_tokens} = {expected})"
            )
        started, completed = self.started_at, self.completed_at
        if started and completed and as_utc(completed) < as_utc(started):
            raise ValueError("completed_at is before started_at")
        latest = datetime.now(UTC) + _AHEAD
        for name, moment in (("started_at", started), ("completed_at", completed)):
            if moment and as_utc(moment) > latest:
                raise ValueError(
                    f"{name} {moment.isoformat()} is more than a day ahead of this host's clock: "
                    "give the time the run took place (UTC, or with its offset)"
                )
        return self


def finished_times(
    started: datetime | None, completed: datetime | None, execution_time_ms: int | None
) -> tuple[datetime, datetime]:
    """A finished execution's start and end in UTC (naive means UTC): a missing one follows
    from the other and the duration, and with neither the run is recorded as it ends (the data
    contract's example gives neither). Both are needed: the rollups file a run by its start,
    the live views by its end."""
    took = timedelta(milliseconds=execution_time_ms or 0)
    started = None if started is None else as_utc(started)
    completed = None if completed is None else as_utc(completed)
    try:
        if completed is None:
            completed = datetime.now(UTC) if started is None else started + took
        if started is None:
            started = completed - took
    except OverflowError:
        raise InvalidInputError(
            f"execution_time_ms {execution_time_ms} from {started or completed} leaves the "
            "range of times (years 1 to 9999)"
        ) from None
    if completed > datetime.now(UTC) + _AHEAD:  # started_at given, plus a duration too long
        raise InvalidInputError(
            f"started_at {started.isoformat()} plus execution_time_ms {execution_time_ms} ends "
            "more than a day ahead of this host's clock: check the duration (milliseconds)"
        )
    return started, completed


def with_finished_times(row: Mapping[str, Any]) -> dict[str, Any]:
    """An execution row with both its times (`finished_times`): a database default would fill
    only the start, after the rollups were told of the row, and live views read the end."""
    started, completed = finished_times(
        row.get("started_at"), row.get("completed_at"), row.get("execution_time_ms")
    )
    return {**row, "started_at": started, "completed_at": completed}


class ExecutionTraceCreate(_Recorded):
    """One ReAct step of an execution."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    execution_id: uuid.UUID
    step_number: Count
    step_type: ExecutionTraceStepType
    content: str | None = None
    duration_ms: Count = 0
    input_tokens: Count = 0
    output_tokens: Count = 0
    timestamp: datetime | None = None


class TokenUsageCreate(_Recorded):
    """Tokens and cost of one component of an execution."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    execution_id: uuid.UUID
    component: str | None = None
    model: str | None = None
    input_tokens: Count
    output_tokens: Count
    cost_usd: Money
    step_number: Count | None = None
    cache_read_tokens: Count | None = None
    cache_write_tokens: Count | None = None
    reasoning_tokens: Count | None = None
    price_source: Annotated[str, Field(max_length=64)] | None = None
    price_date: Annotated[str, Field(max_length=10)] | None = None


MAX_NAME_LENGTH = 10_000
"""The longest budget name or target accepted: a label (or an agent's name), not a document."""
ALERT_LEVELS_LENGTH = 64
"""budgetalerts.alert_levels is VARCHAR(64)."""


class BudgetAlertCreate(_Record):
    """A budget: threshold over a rolling window of `period_days`, for one scope."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    user_id: uuid.UUID | None = None
    scope: BudgetScope = BudgetScope.global_
    threshold_usd: Annotated[Decimal, Field(gt=0, max_digits=10, decimal_places=2)]
    period_days: Annotated[int, Field(ge=1)] = 30
    alert_type: BudgetAlertType
    alert_at_percentage: Annotated[int, Field(ge=1, le=100)] = 80
    is_active: bool = True
    email_notification: bool = True
    current_spend_usd: Annotated[Decimal, Field(ge=0)] = Decimal(0)
    name: Annotated[str, Field(max_length=MAX_NAME_LENGTH)] | None = None
    target: Annotated[str, Field(max_length=MAX_NAME_LENGTH)] | None = None
    alert_levels: tuple[Annotated[int, Field(ge=1, le=100)], ...] | None = None
    per_user: bool = False

    @model_validator(mode="before")
    @classmethod
    def _per_user_is_user_scope(cls, data: Any) -> Any:
        """A per-user budget given without a scope is a user budget (the only kind it can be)."""
        if isinstance(data, Mapping) and data.get("per_user") and data.get("scope") is None:
            return {**data, "scope": BudgetScope.user}
        return data

    @field_validator("alert_levels", mode="before")
    @classmethod
    def _levels_from_text(cls, value: Any) -> Any:
        """Levels as the command line and the database give them: "50,90"."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()] or None
        return value or None

    @field_validator("alert_levels", mode="after")
    @classmethod
    def _levels_fit_their_column(cls, levels: tuple[int, ...] | None) -> tuple[int, ...] | None:
        """The levels' text ("50,90") fits the column's 64 characters: about 20 levels."""
        if levels and len(",".join(map(str, set(levels)))) > ALERT_LEVELS_LENGTH:
            raise ValueError(
                f"{len(set(levels))} levels are too many to store ({ALERT_LEVELS_LENGTH} "
                "characters as '50,90'); give up to about 20"
            )
        return levels

    @field_serializer("alert_levels")
    def _levels_as_text(self, levels: tuple[int, ...] | None) -> str | None:
        """Levels as the column stores them: "50,90"."""
        return ",".join(map(str, sorted(set(levels)))) if levels else None

    @model_validator(mode="after")
    def _target_fits_scope(self) -> Self:
        if self.scope in (BudgetScope.agent, BudgetScope.flow) and not self.target:
            article = "an" if self.scope is BudgetScope.agent else "a"
            raise ValueError(
                f"{article} {self.scope.value} budget needs a target (the agent or flow)"
            )
        if self.scope is BudgetScope.global_ and self.target:
            raise ValueError("a global budget takes no target; use scope agent or flow")
        if self.per_user:
            if self.scope is not BudgetScope.user:
                raise ValueError(
                    "a per-user budget counts each user's own spend: its scope is user, "
                    f"not {self.scope.value}"
                )
            if self.user_id is not None:
                raise ValueError(
                    "a per-user budget applies to every user: leave out user_id (a budget for "
                    "one user is a user budget without per_user)"
                )
        elif self.scope is BudgetScope.user and self.user_id is None:
            raise ValueError("a user budget needs user_id (or per_user, for every user)")
        return self


def validated(record: type[RecordT], fields: Mapping[str, Any] | BaseModel) -> RecordT:
    """The record these fields make; InvalidInputError naming each field refused, its value and
    the limit it broke, in one line."""
    try:
        return record.model_validate(fields)
    except ValidationError as exc:
        raise InvalidInputError(
            f"invalid {_NAMES.get(record, record.__name__)}: {explain(exc)}"
        ) from None


def explain(exc: ValidationError) -> str:
    """pydantic's errors as `field: message, got VALUE; ...`."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] in ("less_than_equal", "greater_than_equal") and where:
            message += f", got {error['input']!r}"
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


_NAMES: dict[type[BaseModel], str] = {
    AgentExecutionCreate: "execution",
    ExecutionTraceCreate: "trace step",
    TokenUsageCreate: "token usage",
    BudgetAlertCreate: "budget",
}
