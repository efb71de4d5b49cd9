"""The spans of one trace into executions, trace steps and token usage (docs/otel.md's table).

- One execution per agent invocation: the outermost agent span (`invoke_agent`, OpenInference
  AGENT) of a branch of the trace; nested agents are steps of it. Outermost agents of one name
  recurring under one parent (a LangGraph `agent` node, once per turn; a LangGraph node even
  once) are turns of one run, anchored at the top of the trace. LLM and tool spans under no
  agent belong to an execution rooted at their trace's root span. When that root (or the agent
  span) has not arrived, the execution is anchored at the missing parent's id, so the execution
  written from a partial trace has the id the whole trace gives it later.
- The execution id is a UUIDv5 of trace id and anchor span id (and, for spans sent with a user's
  token, that user's id: one user's spans can never name, and so replace, another's execution):
  a resent batch doubles nothing.
- LLM spans are `thought` steps (the last one of a successful run the `final_answer`) and token
  usage rows; tool spans are `tool_call` steps and, with a result, `observation` steps; nested
  agents are `action` steps. Steps are numbered in time order, each with its parent step and
  depth. Other spans (HTTP, database, framework chains) are ignored, and counted.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from aa_notebooks.db.records import QUERY_PREVIEW_LENGTH
from aa_notebooks.db.schema import ExecutionStatus, ExecutionTraceStepType
from aa_notebooks.errors import InvalidInputError
from aa_notebooks.otel import conventions as c
from aa_notebooks.otel.conventions import Role
from aa_notebooks.otel.spans import Span
from aa_notebooks.pricing import recorded_cost
from aa_notebooks.tracking.ids import name_uuid, session_uuid
from aa_notebooks.tracking.record import ExecutionRecord, Row
from aa_notebooks.validation import storable_text

STEP_CONTENT_LENGTH = 2_000
"""Trace step content is cut to this many characters (tool results can be whole documents)."""
NAMESPACE = uuid.UUID("5d2c1a4e-8f63-4b7a-9c1e-0a7f3e9b6d21")
"""Namespace of the UUIDv5 ids made from trace and span ids."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_STEP_ORDER = {"action": 0, "thought": 0, "tool_call": 0, "observation": 1}


@dataclass(frozen=True)
class Filing:
    """Whose executions these are: a user token's user always; else the spans' user.id."""

    user_id: uuid.UUID | None = None


@dataclass
class Mapped:
    """The executions a trace's spans make, and how many spans were used or ignored."""

    records: list[ExecutionRecord] = field(default_factory=list)
    used: int = 0
    ignored: int = 0


def execution_id(trace_id: str, anchor_id: str, filing: Filing | None = None) -> uuid.UUID:
    """The id of the execution anchored at `anchor_id` in a trace, in the filing user's ids."""
    owner = "" if filing is None or filing.user_id is None else f"{filing.user_id}/"
    return name_uuid(NAMESPACE, f"{owner}{trace_id}/{anchor_id}")


def map_trace(spans: Sequence[Span], filing: Filing = Filing()) -> Mapped:
    """The executions of one trace's spans (any order, any subset of the trace)."""
    trace = _Trace(spans)
    groups: dict[str, list[Span]] = {}
    for span in trace.spans:
        if trace.roles[span.span_id] is not Role.other:
            groups.setdefault(trace.anchor(span), []).append(span)
    mapped = Mapped()
    for anchor_id, members in groups.items():
        anchor = trace.by_id.get(anchor_id)
        mapped.records.append(_Execution(trace, anchor_id, anchor, members, filing).record())
        mapped.used += len(members) + (anchor is not None and anchor not in members)
    mapped.ignored = len(trace.spans) - mapped.used
    return mapped


def execution_ids(spans: Sequence[Span], filing: Filing = Filing()) -> list[uuid.UUID]:
    """The ids of the executions `map_trace` makes of these spans, without making them."""
    trace = _Trace(spans)
    anchors = {
        trace.anchor(span) for span in trace.spans if trace.roles[span.span_id] is not Role.other
    }
    return [execution_id(spans[0].trace_id, anchor, filing) for anchor in sorted(anchors)]


def is_whole(spans: Sequence[Span]) -> bool:
    """Whether every span's ancestry reaches the trace's root (or a remote parent) among
    `spans`: nothing is missing in between, so the trace can be written now."""
    by_id = {span.span_id: span for span in spans}
    reaches_top: set[str] = set()
    for span in by_id.values():
        walked = []
        while span.span_id not in reaches_top:
            walked.append(span.span_id)
            if span.is_top:
                break
            parent = by_id.get(span.parent_id)  # type: ignore[arg-type]
            if parent is None or parent.span_id in walked:
                return False
            span = parent
        reaches_top.update(walked)
    return True


class _Trace:
    """The spans of a trace indexed by id, with their roles."""

    def __init__(self, spans: Sequence[Span]) -> None:
        self.by_id = {span.span_id: span for span in spans}
        self.spans = list(self.by_id.values())
        self.roles = {span.span_id: c.role_of(span) for span in self.spans}
        self._chains: dict[str, list[Span]] = {}
        self.turn_parents = self._turn_parents()

    def _turn_parents(self) -> set[str]:
        """Spans under which outermost agent spans of one name recur (a LangGraph graph whose
        `agent` node runs once per turn): the run is that parent, the agents its steps. A
        LangGraph node says so in its metadata: its graph is the run even after one turn, or a
        run that answered at once would be named after the node, not the graph."""
        seen: dict[tuple[str, str], int] = {}
        for span in self.spans:
            if self.roles[span.span_id] is not Role.agent or span.parent_id is None:
                continue
            above = self.chain(span)[1:]
            if any(self.roles[s.span_id] is Role.agent for s in above):
                continue
            key = (span.parent_id, span.name)
            seen[key] = seen.get(key, 0) + (2 if c.is_graph_node(span) else 1)
        return {parent for (parent, _), count in seen.items() if count > 1}

    def parent(self, span: Span) -> Span | None:
        if span.remote_parent or span.parent_id is None:
            return None
        return self.by_id.get(span.parent_id)

    def chain(self, span: Span) -> list[Span]:
        """The span and its ancestors present here, nearest first (computed once a span)."""
        known = self._chains.get(span.span_id)
        if known is None:
            known = self._chains[span.span_id] = self._walk(span)
        return known

    def _walk(self, span: Span) -> list[Span]:
        found = [span]
        seen = {span.span_id}
        while (parent := self.parent(found[-1])) is not None and parent.span_id not in seen:
            found.append(parent)
            seen.add(parent.span_id)
        return found

    def anchor(self, span: Span) -> str:
        """The id of the span its execution is anchored at (see the module docstring)."""
        chain = self.chain(span)
        agents = [s for s in chain if self.roles[s.span_id] is Role.agent]
        if agents:
            outermost = agents[-1]
            if outermost.parent_id in self.turn_parents:
                return self._top_of(outermost)
            return outermost.span_id
        return self._top_of(span)

    def _top_of(self, span: Span) -> str:
        """The id of the top of the span's chain here, or of its missing parent."""
        top = self.chain(span)[-1]
        return top.span_id if top.is_top or top.parent_id is None else top.parent_id


class _Execution:
    """One execution's rows from its anchor and member spans."""

    def __init__(
        self,
        trace: _Trace,
        anchor_id: str,
        anchor: Span | None,
        members: list[Span],
        filing: Filing,
    ) -> None:
        self.trace = trace
        self.anchor = anchor
        self.steps_of = [s for s in members if s is not anchor]
        self.filing = filing
        first = members[0]
        self.trace_id = first.trace_id
        self.id = execution_id(first.trace_id, anchor_id, filing)
        self.llm = sorted(
            (s for s in self.steps_of if trace.roles[s.span_id] is Role.llm),
            key=lambda s: (s.start_ns, s.end_ns, s.span_id),
        )
        self.member_ids = {s.span_id for s in self.steps_of}
        self.spanned = [anchor] if anchor is not None else self.steps_of
        """The spans whose times are the execution's: its anchor, or its members without one."""
        self.start_ns = min(s.start_ns for s in self.spanned)

    def record(self) -> ExecutionRecord:
        status, error_type, error_message = self._status()
        steps, primary = self._steps(status)
        usages = self._usages(primary)
        execution = self._execution(status, error_type, error_message, usages)
        return ExecutionRecord(execution, tuple(steps), tuple(usages))

    def _status(self) -> tuple[ExecutionStatus, str | None, str | None]:
        if self.anchor is None or not self.anchor.error:
            return ExecutionStatus.success, None, None
        error_type, message = c.error_of(self.anchor)
        status = (
            ExecutionStatus.timeout
            if c.is_timeout(error_type, message)
            else (ExecutionStatus.failure)
        )
        return status, _clean(error_type, 200), _clean(message, STEP_CONTENT_LENGTH)

    def _steps(self, status: ExecutionStatus) -> tuple[list[Row], dict[str, int]]:
        """Step rows in time order, and the step number of each member span's main step."""
        events: list[tuple[int, int, int, str, str, Span]] = []
        depth_of = {s.span_id: self._depth(s) for s in self.steps_of}
        for span in self.steps_of:
            role = self.trace.roles[span.span_id]
            kind = {Role.agent: "action", Role.llm: "thought", Role.tool: "tool_call"}[role]
            depth = depth_of[span.span_id]
            events.append((span.start_ns, depth, _STEP_ORDER[kind], span.span_id, kind, span))
            if role is Role.tool and c.tool_result(span) is not None:
                events.append((span.end_ns, depth, 1, span.span_id, "observation", span))
        events.sort(key=lambda event: event[:4])
        primary = {
            event[3]: number
            for number, event in enumerate(events, start=1)
            if event[4] != "observation"
        }
        last_llm = max(self.llm, key=lambda s: (s.end_ns, s.start_ns, s.span_id), default=None)
        rows = []
        for number, (_, depth, _, span_id, kind, span) in enumerate(events, start=1):
            parent = self._parent_step(span)
            if kind == "thought" and status is ExecutionStatus.success and span is last_llm:
                kind = ExecutionTraceStepType.final_answer.value
            llm = kind in ("thought", "final_answer")
            at = span.end_ns if kind == "observation" else span.start_ns
            rows.append({
                "id": name_uuid(self.id, f"{span_id}/{kind}"),
                "execution_id": self.id,
                "step_number": number,
                "step_type": kind,
                "content": _clean(self._content(kind, span), STEP_CONTENT_LENGTH),
                "input_tokens": (c.input_tokens(span) or 0) if llm else 0,
                "output_tokens": (c.output_tokens(span) or 0) if llm else 0,
                "duration_ms": 0 if kind == "observation" else _ms(span.end_ns - span.start_ns),
                "timestamp": _time(at),
                "parent_step": None if parent is None else primary[parent],
                "depth": depth,
            })  # fmt: skip
        return rows, primary

    def _content(self, kind: str, span: Span) -> str | None:
        if kind == "action":
            return f"agent {c.agent_name(span) or span.name}"
        if kind == "tool_call":
            arguments = c.tool_arguments(span)
            return f"{c.tool_name(span)}({arguments or ''})"
        if kind == "observation":
            return c.tool_result(span)
        return c.output_text(span) or span.name

    def _parent_step(self, span: Span) -> str | None:
        """The nearest enclosing member span (whose main step is this one's parent)."""
        for ancestor in self.trace.chain(span)[1:]:
            if ancestor.span_id in self.member_ids:
                return ancestor.span_id
        return None

    def _depth(self, span: Span) -> int:
        return sum(1 for s in self.trace.chain(span)[1:] if s.span_id in self.member_ids)

    def _usages(self, primary: dict[str, int]) -> list[Row]:
        rows = []
        wrappers = self._wrapping_llm_calls()
        for span in self.llm:
            if span.span_id in wrappers:
                continue
            model = c.model_of(span)
            input_tokens = c.input_tokens(span)
            output_tokens = c.output_tokens(span)
            read, write = c.cache_read_tokens(span), c.cache_write_tokens(span)
            if (read or 0) + (write or 0) > (input_tokens or 0):  # the input includes them
                read = write = None  # in both conventions: counts past it are not kept
            reasoning = c.reasoning_tokens(span)
            rows.append({
                "id": name_uuid(self.id, f"{span.span_id}/usage"),
                "execution_id": self.id,
                "component": _clean(self._component(span), 200),
                "model": _clean(model, 200),
                "input_tokens": input_tokens or 0,
                "output_tokens": output_tokens or 0,
                **_priced(  # at the execution's start, as the tracker and `reprice` price
                    model, input_tokens or 0, output_tokens or 0, read, write, reasoning,
                    _time(self.start_ns),
                ),
                "step_number": primary[span.span_id],
                "cache_read_tokens": read,
                "cache_write_tokens": write,
                "reasoning_tokens": reasoning,
                "_reported": input_tokens is not None or output_tokens is not None,
            })  # fmt: skip
        return rows

    def _wrapping_llm_calls(self) -> set[str]:
        """LLM spans around another LLM span that reports tokens: one call seen by two
        instrumentations (LangChain's ChatOpenAI around the OpenAI client's), whose usage the
        inner one reports; counting both doubled the run's tokens and cost."""
        llm_ids = {span.span_id for span in self.llm}
        wrappers: set[str] = set()
        for span in self.llm:
            if c.input_tokens(span) is None and c.output_tokens(span) is None:
                continue
            wrappers.update(a.span_id for a in self.trace.chain(span)[1:] if a.span_id in llm_ids)
        return wrappers

    def _component(self, span: Span) -> str:
        """The agent the call was made for (the nearest agent span), else the span's name."""
        for ancestor in self.trace.chain(span)[1:]:
            if self.trace.roles[ancestor.span_id] is Role.agent:
                return c.agent_name(ancestor) or ancestor.name
        return span.name

    def _execution(
        self,
        status: ExecutionStatus,
        error_type: str | None,
        error_message: str | None,
        usages: list[Row],
    ) -> Row:
        anchor = self.anchor
        start = self.start_ns
        end = max(s.end_ns for s in self.spanned)
        reported = [u for u in usages if u.pop("_reported")]
        tokens: tuple[int | None, int | None] = (0, 0) if not usages else (None, None)
        if reported:
            tokens = (
                sum(u["input_tokens"] for u in usages),
                sum(u["output_tokens"] for u in usages),
            )
        request_id = uuid.UUID(hex=self.trace_id)
        session = self._first(c.SESSION_IDS)
        return {
            "id": self.id,
            "user_id": self._user(),
            "request_id": request_id,
            "session_id": session_uuid(str(session)) if session is not None else request_id,
            "agent_id": c.as_uuid(anchor.attributes.get(c.AGENT_ID)) if anchor else None,
            "agent_name": _clean(self._agent_name(), 200),
            "agent_type": _clean(self._scope(), 200),
            "model_name": _clean(self._model(usages), 200),
            "status": status.value,
            "input_tokens": tokens[0],
            "output_tokens": tokens[1],
            "total_tokens": None if tokens[0] is None else tokens[0] + (tokens[1] or 0),
            "cost_usd": sum((u["cost_usd"] for u in usages), Decimal("0.000000")),
            "execution_time_ms": _ms(end - start),
            "llm_time_ms": _ms(_union(self.llm, start, end)),
            "query_preview": _clean(self._query(), QUERY_PREVIEW_LENGTH),
            "error_type": error_type,
            "error_message": error_message,
            "started_at": _time(start),
            "completed_at": _time(end),
        }

    def _scope(self) -> str:
        """The agent's instrumentation scope, else its first step's ("" where neither has one:
        an agent span with no children from an exporter with an unnamed tracer)."""
        if self.anchor is not None and self.anchor.scope:
            return self.anchor.scope
        return self.steps_of[0].scope if self.steps_of else ""

    def _agent_name(self) -> str | None:
        """The name the user gave the agent: the anchor's agent-name attribute, else the first
        nested agent's (a framework's wrapper such as "Agent workflow" names none), else the
        anchor's span name (less its operation)."""
        anchor = self.anchor
        if anchor is None:
            return None
        agents = sorted(
            (s for s in self.steps_of if self.trace.roles[s.span_id] is Role.agent),
            key=lambda s: (s.start_ns, s.span_id),
        )
        for span in (anchor, *agents):
            if named := c.named_agent(span):
                return named
        if self.trace.roles[anchor.span_id] is Role.agent:
            return c.agent_name(anchor)
        return anchor.name or None

    def _model(self, usages: list[Row]) -> str | None:
        """The model of the most expensive call (most tokens when none is priced; first wins)."""
        priced = [u for u in usages if u["model"]]
        if not priced:
            return None
        best = max(
            enumerate(priced),
            key=lambda pair: (
                pair[1]["cost_usd"],
                pair[1]["input_tokens"] + pair[1]["output_tokens"],
                -pair[0],
            ),
        )
        model: str = best[1]["model"]
        return model

    def _user(self) -> uuid.UUID | None:
        if self.filing.user_id is not None:
            return self.filing.user_id
        return c.as_uuid(self._first(c.USER_IDS))

    def _first(self, names: Iterable[str]) -> Any:
        """The first of the attributes on the anchor, else on the members in time order."""
        spans = ([self.anchor] if self.anchor else []) + sorted(
            self.steps_of, key=lambda s: s.start_ns
        )
        for span in spans:
            value = span.attribute(*names)
            if value is not None:
                return value
        return None

    def _query(self) -> str | None:
        """The first user message: the anchor's, else the first LLM call's."""
        if self.anchor is not None:
            found = c.first_user_message(self.anchor)
            if found:
                return found
            if self.trace.roles[self.anchor.span_id] is Role.agent:
                found = _user_text(c.input_text(self.anchor))
                if found:
                    return found
        for span in self.llm:
            if found := c.first_user_message(span):
                return found
        return None


def _user_text(value: str | None) -> str | None:
    """An agent's input: plain text as it is; a JSON list of messages, its first user text."""
    if value is None or not value.lstrip().startswith("["):
        return value
    try:
        messages = json.loads(value)
    except ValueError:
        return value
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                texts = [str(p["text"]) for p in content if isinstance(p, dict) and p.get("text")]
                if texts:
                    return "\n".join(texts)
    return value


def _union(spans: Sequence[Span], lower: int, upper: int) -> int:
    """Nanoseconds of [lower, upper) covered by at least one of the spans (overlaps counted
    once): a call's span reaching past its run's (another host's clock) adds no time past it."""
    total, covered_to = 0, lower
    for span in sorted(spans, key=lambda s: s.start_ns):
        start, end = max(span.start_ns, covered_to), min(span.end_ns, upper)
        if end > start:
            total += end - start
        covered_to = max(covered_to, span.end_ns)
    return total


def _ms(nanoseconds: int) -> int:
    return round(nanoseconds / 1_000_000)


def _priced(
    model: str | None,
    input_tokens: int,
    output_tokens: int,
    read: int | None,
    write: int | None,
    reasoning: int | None,
    at: datetime,
) -> dict[str, Any]:
    """The call's cost (with its cache tokens at the cache rates) and the price's provenance, as
    usage columns; counts that do not fit in the totals (a span that counts them apart, or
    wrongly) are priced as plain input instead."""
    try:
        priced = recorded_cost(
            model, input_tokens, output_tokens,
            cache_read_tokens=read, cache_write_tokens=write, reasoning_tokens=reasoning, at=at,
        )  # fmt: skip
    except InvalidInputError:
        priced = recorded_cost(model, input_tokens, output_tokens, at=at)
    return {"cost_usd": priced.cost_usd, **priced.provenance()}


def _time(nanoseconds: int) -> datetime:
    return _EPOCH + timedelta(microseconds=nanoseconds // 1000)


def _clean(value: str | None, limit: int) -> str | None:
    """Text as stored (`storable_text`), at most `limit` characters."""
    if value is None:
        return None
    return storable_text(value)[:limit]
