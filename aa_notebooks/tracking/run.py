"""The execution in progress: agent code adds steps and token usage; on exit it becomes rows.

Definitions the rows follow:
- step numbers are 1, 2, 3... in the order `step` is called; a step's duration, when not given,
  is the time since the previous step (or since the start) was recorded;
- llm_time_ms is the summed duration of the LLM steps: steps that carry tokens themselves, or
  that a token usage names by `step_number` (a step with no tokens is not known to be an LLM call);
- token totals are the sums of the token usages; with no usage, of the steps' tokens;
- cost is the sum of the usages' costs (each priced by its model); with no usage, the step
  totals priced at the run's model;
- model_name is the run's model, else the model of the usage with the most tokens.

The step and usage rows carry no `id` or `execution_id`: the writer gives them both as it
inserts them. A finished record waits in the writer's queue and its batch long enough for the
garbage collector to move everything it tracks to its oldest generation, whose full passes
scale with the whole process; a UUID is such an object, and a row holding one is too, while
rows of plain values are not tracked at all. Without the ids, the full passes of a saturated
tracker take about 0.28 s per 20,000 runs instead of 0.40-0.47 s.
"""

from __future__ import annotations

import uuid
import warnings
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from math import isfinite
from time import perf_counter

from aa_notebooks.db.records import QUERY_PREVIEW_LENGTH
from aa_notebooks.db.schema import ExecutionStatus, ExecutionTraceStepType
from aa_notebooks.errors import InvalidInputError
from aa_notebooks.pricing import recorded_cost
from aa_notebooks.tracking.ids import new_id, optional_uuid, session_uuid
from aa_notebooks.tracking.record import ExecutionRecord, Row
from aa_notebooks.validation import non_negative_int

_STEP_TYPES = {kind.value: kind.value for kind in ExecutionTraceStepType}


class Run:
    """One execution being recorded. Its descriptive attributes may be changed until it ends."""

    def __init__(
        self,
        *,
        agent_name: str | None,
        agent_type: str | None = None,
        model: str | None = None,
        query: str | None = None,
        user_id: uuid.UUID | str | None = None,
        session_id: uuid.UUID | str | None = None,
        flow_id: str | None = None,
        agent_id: uuid.UUID | str | None = None,
        request_id: uuid.UUID | str | None = None,
    ) -> None:
        self.id = new_id()
        self.agent_name = agent_name
        self.agent_type = agent_type
        self.model = model
        self.query = query
        self.user_id = user_id  # the id properties below check and convert
        self.session_id = session_id
        self.flow_id = flow_id
        self.agent_id = agent_id
        self.request_id = request_id
        self.started_at = datetime.now(UTC)
        self._start = self._last_step = perf_counter()
        self._steps: list[Row] = []
        self._usages: list[Row] = []
        self._failure: tuple[str, str] | None = None

    @property
    def user_id(self) -> uuid.UUID | None:
        """The user the execution runs for; set it as a UUID or its text (checked at once)."""
        return self._user_id

    @user_id.setter
    def user_id(self, value: uuid.UUID | str | None) -> None:
        self._user_id = optional_uuid(value, "user_id")

    @property
    def agent_id(self) -> uuid.UUID | None:
        """The agent's id; set it as a UUID or its text (checked at once)."""
        return self._agent_id

    @agent_id.setter
    def agent_id(self, value: uuid.UUID | str | None) -> None:
        self._agent_id = optional_uuid(value, "agent_id")

    @property
    def session_id(self) -> uuid.UUID:
        """The session the execution belongs to; any text sets a stable id (`session_uuid`)."""
        return self._session_id

    @session_id.setter
    def session_id(self, value: uuid.UUID | str | None) -> None:
        self._session_id = session_uuid(value)

    @property
    def request_id(self) -> uuid.UUID:
        """The request's id; set it as a UUID or its text (checked at once), or None for a
        new one."""
        return self._request_id

    @request_id.setter
    def request_id(self, value: uuid.UUID | str | None) -> None:
        self._request_id = optional_uuid(value, "request_id") or new_id()

    def step(
        self,
        step_type: str | ExecutionTraceStepType,
        content: str | None = None,
        duration_ms: float | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
    ) -> int:
        """Record the next ReAct step; returns its step number."""
        kind = _STEP_TYPES.get(step_type)
        if kind is None:
            raise InvalidInputError(
                f"unknown step type {step_type!r}; use one of {', '.join(_STEP_TYPES)}"
            )
        now = perf_counter()
        if duration_ms is None:
            duration_ms = round((now - self._last_step) * 1000)
        elif isinstance(duration_ms, float):
            if not isfinite(duration_ms):
                raise InvalidInputError(
                    f"duration_ms must be a number of milliseconds, got {duration_ms!r}"
                )
            duration_ms = round(duration_ms)
        self._last_step = now
        number = len(self._steps) + 1
        self._steps.append(
            {
                "step_number": number,
                "step_type": kind,
                "content": content,
                "input_tokens": non_negative_int(input_tokens, "input_tokens"),
                "output_tokens": non_negative_int(output_tokens, "output_tokens"),
                "duration_ms": non_negative_int(duration_ms, "duration_ms"),
                "timestamp": datetime.now(UTC),
            }
        )
        return number

    def tokens(
        self,
        component: str | None,
        model: str | None,
        input_tokens: int,
        output_tokens: int,
        step_number: int | None = None,
        *,
        cache_read_tokens: int | None = None,
        cache_write_tokens: int | None = None,
        reasoning_tokens: int | None = None,
    ) -> Decimal:
        """Record one component's token usage, priced by its model; returns its cost.

        `input_tokens` includes the prompt-cache reads and writes, `output_tokens` the reasoning
        tokens, as OpenAI reports them; the cached ones cost the model's cache rates. Counts
        that cannot include them (Anthropic's input_tokens leaves the cache out, Gemini's
        output its thoughts) are taken as excluding them, with a warning, rather than raise
        into the agent."""
        input_tokens, output_tokens = _inclusive(
            input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens
        )
        priced = recorded_cost(
            model, input_tokens, output_tokens,
            cache_read_tokens=cache_read_tokens, cache_write_tokens=cache_write_tokens,
            reasoning_tokens=reasoning_tokens, at=self.started_at,
        )  # fmt: skip
        cost = priced.cost_usd
        self._usages.append(
            {
                "component": component,
                "model": model,
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "cost_usd": cost,
                "step_number": None
                if step_number is None
                else non_negative_int(step_number, "step_number"),
                "cache_read_tokens": cache_read_tokens,
                "cache_write_tokens": cache_write_tokens,
                "reasoning_tokens": reasoning_tokens,
                **priced.provenance(),
            }
        )
        return cost

    def fail(self, error_type: str, message: str) -> None:
        """Mark the execution failed without raising; it is recorded as `failure` on exit."""
        self._failure = (error_type, message)

    def start_row(self) -> Row:
        """What is known at the start (`record.START_FIELDS`): what the journal keeps of it."""
        return {
            "id": self.id,
            "user_id": self.user_id,
            "request_id": self.request_id,
            "session_id": self.session_id,
            "agent_id": self.agent_id,
            "agent_name": self.agent_name,
            "agent_type": self.agent_type,
            "model_name": self.model,
            "flow_id": self.flow_id,
            "query_preview": _preview(self.query),
            "started_at": self.started_at,
        }

    @property
    def elapsed_ms(self) -> float:
        """Milliseconds since the execution started."""
        return (perf_counter() - self._start) * 1000

    def finish(
        self,
        status: ExecutionStatus | None = None,
        error_type: str | None = None,
        error_message: str | None = None,
    ) -> ExecutionRecord:
        """The rows to record; without a status, `failure` if `fail` was called, else `success`."""
        elapsed = perf_counter() - self._start
        if status is None:
            status = ExecutionStatus.success
            if self._failure is not None:
                status = ExecutionStatus.failure
                error_type, error_message = self._failure
        input_tokens, output_tokens, cost = self._totals()
        execution: Row = {
            "id": self.id,
            "user_id": self.user_id,
            "request_id": self.request_id,
            "session_id": self.session_id,
            "agent_id": self.agent_id,
            "agent_name": self.agent_name,
            "agent_type": self.agent_type,
            "model_name": self._model_name(),
            "flow_id": self.flow_id,
            "status": status.value,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens,
            "cost_usd": cost,
            "execution_time_ms": round(elapsed * 1000),
            "llm_time_ms": self._llm_time_ms(),
            "query_preview": _preview(self.query),
            "error_type": error_type,
            "error_message": error_message,
            "started_at": self.started_at,
            "completed_at": self.started_at + timedelta(seconds=elapsed),
        }
        return ExecutionRecord(execution, tuple(self._steps), tuple(self._usages))

    def _totals(self) -> tuple[int, int, Decimal]:
        if self._usages:
            return (
                sum(u["input_tokens"] for u in self._usages),
                sum(u["output_tokens"] for u in self._usages),
                sum((u["cost_usd"] for u in self._usages), Decimal("0.000000")),
            )
        input_tokens = sum(s["input_tokens"] for s in self._steps)
        output_tokens = sum(s["output_tokens"] for s in self._steps)
        cost = recorded_cost(self.model, input_tokens, output_tokens, at=self.started_at).cost_usd
        return input_tokens, output_tokens, cost

    def _model_name(self) -> str | None:
        if self.model or not self._usages:
            return self.model
        biggest = max(self._usages, key=lambda u: u["input_tokens"] + u["output_tokens"])
        model: str | None = biggest["model"]
        return model

    def _llm_time_ms(self) -> int:
        named = {u["step_number"] for u in self._usages}
        return sum(
            s["duration_ms"]
            for s in self._steps
            if s["input_tokens"] or s["output_tokens"] or s["step_number"] in named
        )


def _inclusive(
    input_tokens: int,
    output_tokens: int,
    cache_read: int | None,
    cache_write: int | None,
    reasoning: int | None,
) -> tuple[int, int]:
    """Input and output counts that include the cached and the reasoning tokens: counts that
    are too small to include them are taken as excluding them, and the parts added."""
    if cache_read is None and cache_write is None and reasoning is None:
        return input_tokens, output_tokens  # the usual call: nothing to compare
    cached = (_count(cache_read) or 0) + (_count(cache_write) or 0)
    given_input, given_output = _count(input_tokens), _count(output_tokens)
    if given_input is not None and cached > given_input:
        warnings.warn(
            "cache_read_tokens + cache_write_tokens exceed input_tokens: taken as input "
            "excluding the cache (Anthropic's usage) and added to it; pass input_tokens "
            "including them (a smaller cache count is always taken as included)",
            UserWarning,
            stacklevel=3,
        )
        input_tokens = given_input + cached
    reasoned = _count(reasoning) or 0
    if given_output is not None and reasoned > given_output:
        warnings.warn(
            "reasoning_tokens exceed output_tokens: taken as output excluding the reasoning "
            "(Gemini's thoughts) and added to it; pass output_tokens including them (a smaller "
            "reasoning count is always taken as included)",
            UserWarning,
            stacklevel=3,
        )
        output_tokens = given_output + reasoned
    return input_tokens, output_tokens


def _count(value: object) -> int | None:
    """A whole number of tokens (`non_negative_int`) as an int; None for anything else, which
    pricing refuses with its own message."""
    try:
        return non_negative_int(value, "a token count")
    except InvalidInputError:
        return None


def _preview(query: object) -> str | None:
    """The query's first QUERY_PREVIEW_LENGTH characters; a query set to something else than
    text (a request body's dict, a number) as its text, as the decorator records one."""
    if query is None:
        return None
    text = query if query.__class__ is str else str(query)
    return text[:QUERY_PREVIEW_LENGTH] or None
