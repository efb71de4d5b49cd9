"""Deterministic rows for executions, their ReAct steps and token usage, in storage form.

Chunk k (executions k*CHUNK to k*CHUNK + CHUNK - 1) draws every value from its own
`random.Random(f"{seed}/{k}")`, so the rows depend only on (seed, count, now, days) and chunks can
be made in any order, in any process. Ids are UUIDv7 (RFC 9562): the row's time in the first 48
bits, seeded randomness in the rest, so indexes grow at their right edge as in a real recording.
Rows are tuples already in the form `insert_storage_rows` writes (hex UUIDs, timestamp text,
float money), correct by construction: validating millions of rows one by one would be the
slowest part of seeding.

Each execution runs 1 to 3 ReAct iterations (thought, then tool_call or action, then observation),
dealt from shuffled blocks of 100 (86 one, 11 two, 3 three):
- success: the iterations, then final_answer;
- failure: the last observation carries the error; no final_answer;
- timeout: the last tool_call/action hangs past the 120 s limit; no observation, no final_answer.
Statuses come in shuffled blocks of 20 (17 success, 2 failure, 1 timeout), so the shares are
85/10/5 % to within one block for any seed. Token usage: a `main_agent` row per thought and
final_answer, a `tool_call` row per tool_call, a `sub_agent` row per action, each with the step
number of its trace step, which carries the same tokens. Each `main_agent` call after the first
of an execution reads the previous call's context from the provider's prompt cache (its
`cache_read_tokens`, priced at the model's cache read rate); the other calls read none. Every
usage row records the price it was costed with (`price_source`, `price_date`): the prices in
force at the seed's `now`. An execution's tokens and cost are the
sums over its usages; its time is the sum of its steps plus overhead before and after; its LLM
time is that of its thoughts and final answer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from aa_notebooks.seed import catalog
from aa_notebooks.seed.world import CHUNK, World

EXECUTION_COLUMNS = (
    "id", "user_id", "request_id", "session_id", "agent_id", "agent_name", "agent_type",
    "model_name", "flow_id", "status", "input_tokens", "output_tokens", "total_tokens",
    "cost_usd", "execution_time_ms", "llm_time_ms", "query_preview", "error_type",
    "error_message", "started_at", "completed_at",
)  # fmt: skip
TRACE_COLUMNS = (
    "id", "execution_id", "step_number", "step_type", "content", "input_tokens",
    "output_tokens", "duration_ms", "timestamp",
)  # fmt: skip
USAGE_COLUMNS = (
    "id", "execution_id", "component", "model", "input_tokens", "output_tokens", "cost_usd",
    "step_number", "cache_read_tokens", "price_source", "price_date",
)  # fmt: skip

STATUS_BLOCK = ("success",) * 17 + ("failure",) * 2 + ("timeout",)
ITERATION_BLOCK = (1,) * 86 + (2,) * 11 + (3,) * 3
"""How many ReAct iterations executions run: 86 % one, 11 % two, 3 % three."""
TOOL_CALL_SHARE = 0.7
"""Share of acting steps that call a tool; the others delegate to a sub-agent (`action`)."""
FLOW_SHARE = 0.35
NEW_SESSION_SHARE = 0.5
MICROS = 1_000_000
"""Micro-dollars per dollar: costs are summed as exact integers, stored as floats (storage form)."""
_V7_CLEAR = ~((0xF << 76) | (0x3 << 62))
_V7_SET = (0x7 << 76) | (0x2 << 62)

Usage = tuple[str, str, int, int, int]
"""component, model, input tokens (cache reads included), output tokens, cache read tokens."""


@dataclass
class Chunk:
    """Rows for a run of consecutive executions, in EXECUTION/TRACE/USAGE_COLUMNS order."""

    executions: list[tuple[Any, ...]] = field(default_factory=list)
    traces: list[tuple[Any, ...]] = field(default_factory=list)
    usages: list[tuple[Any, ...]] = field(default_factory=list)


def generate_chunk(world: World, index: int) -> Chunk:
    """The rows of chunk `index` of the world's plan."""
    plan = world.plan
    builder = _ChunkBuilder(world, random.Random(f"{plan.seed}/{index}"))
    for position in range(index * CHUNK, min((index + 1) * CHUNK, plan.count)):
        builder.execution(position)
    return builder.chunk


class _Deck:
    """Deals from shuffled copies of a block: exact shares every `len(block)` draws."""

    def __init__(self, block: tuple[Any, ...], rng: random.Random) -> None:
        self._block = block
        self._rng = rng
        self._cards: list[Any] = []

    def deal(self) -> Any:
        """The next item; a freshly shuffled block when the last one is used up."""
        if not self._cards:
            self._cards = list(self._block)
            self._rng.shuffle(self._cards)
        return self._cards.pop()


class _ChunkBuilder:
    """Appends executions, with their steps and usages, to one chunk from one random stream.

    The execution being built keeps its running state (clock, step, totals) in attributes.
    """

    def __init__(self, world: World, rng: random.Random) -> None:
        self.world = world
        self.chunk = Chunk()
        self._random = rng.random
        self._bits = rng.getrandbits
        self._origin_unix_ms = world.origin_unix_ms
        self._sessions: dict[str, str] = {}
        self._statuses = _Deck(STATUS_BLOCK, rng)
        self._iterations = _Deck(ITERATION_BLOCK, rng)
        self.execution_id = ""
        self.started_ms = self.clock = self.step = self.llm_ms = 0
        self.input_tokens = self.output_tokens = self.cost_micros = 0

    def uuid(self, offset_ms: int) -> str:
        """A UUIDv7 for the moment `offset_ms` after the origin, in storage form."""
        value = ((self._origin_unix_ms + offset_ms) << 80) | (self._bits(80) & _V7_CLEAR) | _V7_SET
        return value.to_bytes(16, "big").hex()

    def execution(self, position: int) -> None:
        """Append execution number `position` of the plan, with its steps and usages."""
        world, random_ = self.world, self._random
        start_ms = world.timeline.offset_ms((position + random_()) / world.plan.count)
        user = world.users.pick(random_())
        agent = world.agents.pick(random_())
        model = world.models[agent.name].pick(random_())
        status = self._statuses.deal()
        self.execution_id = self.uuid(start_ms)
        session = self._sessions.get(user.username)
        if session is None or random_() < NEW_SESSION_SHARE:
            session = self._sessions[user.username] = self.uuid(start_ms)
        flow = agent.flows[int(random_() * len(agent.flows))] if agent.flows else None
        if random_() >= FLOW_SHARE:
            flow = None
        question = agent.questions[int(random_() * len(agent.questions))]
        self.started_ms = self.clock = start_ms + 20 + int(random_() * 130)
        self.step = self.llm_ms = self.input_tokens = self.output_tokens = self.cost_micros = 0
        error_type, error_message = self._react_loop(agent, model, question, status)
        execution_ms = self.clock + 10 + int(random_() * 90) - start_ms
        tokens_in, tokens_out = self.input_tokens, self.output_tokens
        self.chunk.executions.append(
            (
                self.execution_id, world.ids[user], self.uuid(start_ms), session,
                world.ids[agent], agent.name, agent.agent_type, model, flow, status, tokens_in,
                tokens_out, tokens_in + tokens_out, self.cost_micros / MICROS, execution_ms,
                self.llm_ms, question, error_type, error_message, world.stamp(start_ms),
                world.stamp(start_ms + execution_ms),
            )
        )  # fmt: skip

    def _react_loop(
        self, agent: catalog.DemoAgent, model: str, question: str, status: str
    ) -> tuple[str | None, str | None]:
        """Record one execution's steps; returns its error type and message."""
        random_, add = self._random, self._add
        iterations = self._iterations.deal()
        context = 1200 + int(random_() * 4800)
        cached = 0  # the previous main_agent call's context, in the prompt cache
        for iteration in range(1, iterations + 1):
            thought = catalog.THOUGHTS[int(random_() * len(catalog.THOUGHTS))]
            main = ("main_agent", model, context, 40 + int(random_() * 210), cached)
            cached = context
            add("thought", thought, 400 + int(random_() * 2100), main, llm=True)
            kind, text, duration_ms, usage = self._act(agent, question)
            if iteration == iterations and status == "timeout":
                until_timeout = catalog.TIMEOUT_MS + self.started_ms - self.clock
                add(kind, text, max(duration_ms, until_timeout), usage)
                return catalog.TIMEOUT_ERROR
            add(kind, text, duration_ms, usage)
            if iteration == iterations and status == "failure":
                error_type, error_message, _ = self.world.failures.pick(random_())
                add("observation", f"Error: {error_message}", 2 + int(random_() * 38))
                return error_type, error_message
            observation = catalog.OBSERVATIONS[int(random_() * len(catalog.OBSERVATIONS))]
            add("observation", observation, 2 + int(random_() * 38))
            context += 300 + int(random_() * 2200)
        answer = catalog.FINAL_ANSWERS[int(random_() * len(catalog.FINAL_ANSWERS))]
        main = ("main_agent", model, context, 120 + int(random_() * 800), cached)
        add("final_answer", answer, 500 + int(random_() * 3000), main, llm=True)
        return None, None

    def _act(self, agent: catalog.DemoAgent, question: str) -> tuple[str, str, int, Usage]:
        """A tool call (the tool's own LLM work billed as `tool_call`) or a sub-agent action."""
        random_ = self._random
        if random_() < TOOL_CALL_SHARE:
            tool = agent.tools[int(random_() * len(agent.tools))]
            usage = (
                "tool_call", catalog.TOOL_MODEL, 300 + int(random_() * 2200),
                30 + int(random_() * 220), 0,
            )  # fmt: skip
            text = f'{tool}(query="{question[:40]}")'
            return "tool_call", text, 150 + int(random_() * 3850), usage
        usage = (
            "sub_agent", agent.sub_agent_model, 800 + int(random_() * 4000),
            100 + int(random_() * 600), 0,
        )  # fmt: skip
        text = catalog.SUB_AGENT_ACTIONS[int(random_() * len(catalog.SUB_AGENT_ACTIONS))]
        return "action", text, 1500 + int(random_() * 6500), usage

    def _add(
        self, kind: str, text: str, duration_ms: int, usage: Usage | None = None, llm: bool = False
    ) -> None:
        """Append a step of the current execution (and its usage row); move the clock past it."""
        clock = self.clock
        self.step = step = self.step + 1
        tokens_in = tokens_out = 0
        if usage is not None:
            component, model, tokens_in, tokens_out, cached = usage
            pricer = self.world.pricer
            cost = pricer.micros(model, tokens_in, tokens_out, cached)
            self.cost_micros += cost
            self.input_tokens += tokens_in
            self.output_tokens += tokens_out
            self.chunk.usages.append(
                (
                    self.uuid(clock), self.execution_id, component, model, tokens_in, tokens_out,
                    cost / MICROS, step, cached, *pricer.provenance(model),
                )
            )  # fmt: skip
        self.chunk.traces.append(
            (
                self.uuid(clock), self.execution_id, step, kind, text, tokens_in, tokens_out,
                duration_ms, self.world.stamp(clock),
            )
        )  # fmt: skip
        if llm:
            self.llm_ms += duration_ms
        self.clock = clock + duration_ms
