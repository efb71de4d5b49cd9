"""One pass over a window grouped by (agent, model), from which three results are derived.

The overview's totals, the top agents and the cost by model are all sums over the same
executions, grouped more or less finely; the database's work is the GROUP BY over every row of
the window (a sort of up to a million rows on SQLite). Grouping once by (agent, model) gives a
few dozen rows that add up exactly (counts and sums; money as Decimal) to each of the three, so
`overview`, `top_agents` and `cost_summary(by="model")` all read these rows, and the dashboard
reads them once for all three.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.sql.elements import ColumnElement

from aa_notebooks.analytics.filters import EXECUTIONS, STATUSES, agent_groups, in_scope, in_window
from aa_notebooks.analytics.periods import Window
from aa_notebooks.analytics.source import Source

COUNTS = (
    "executions", *STATUSES, "time_sum", "time_count", "input", "input_count", "output",
    "output_count", "tokens",
)  # fmt: skip
"""Each pair's sums: "input_count" and "output_count" count the executions that report them."""


@dataclass(frozen=True)
class Pair:
    """The executions of one agent with one model in the window, summed."""

    agent_id: uuid.UUID | None
    by_name: str | None
    """The agent's name when it has no id (agents without an id are told apart by name)."""
    agent_name: str | None
    """The greatest agent_name among the pair's executions (the label of an agent with an id,
    unless it was renamed: `agent_names`)."""
    least_name: str | None
    """The least agent_name among them: another than `agent_name` if the agent was renamed."""
    model: str | None
    counts: Mapping[str, int]
    cost: Decimal

    @property
    def agent(self) -> tuple[uuid.UUID | None, str | None]:
        """The agent's identity: its id where set, else its name; (None, None) for none."""
        return self.agent_id, self.by_name


def load_pairs(source: Source, window: Window, connection: Connection) -> list[Pair]:
    """The window's executions (in the client's scope) summed per (agent, model)."""
    return load_pairs_where(source, in_window(window), connection)


def load_pairs_where(
    source: Source, started: ColumnElement[bool], connection: Connection
) -> list[Pair]:
    """The executions (in the client's scope) that meet `started`, summed per (agent, model)."""
    c = EXECUTIONS.c
    agent_id, by_name = agent_groups()
    query = (
        select(
            agent_id,
            by_name,
            func.max(source.dialect.text_order(c.agent_name)).label("agent_name"),
            func.min(source.dialect.text_order(c.agent_name)).label("least_name"),
            c.model_name,
            func.count().label("executions"),
            *(func.count().filter(c.status == s).label(s) for s in STATUSES),
            func.sum(c.execution_time_ms).label("time_sum"),
            func.count(c.execution_time_ms).label("time_count"),
            source.dialect.money_sum(c.cost_usd).label("cost"),
            func.sum(c.input_tokens).label("input"),
            func.count(c.input_tokens).label("input_count"),
            func.sum(c.output_tokens).label("output"),
            func.count(c.output_tokens).label("output_count"),
            func.sum(c.total_tokens).label("tokens"),
        )
        .where(started, *in_scope(source))
        .group_by(source.dialect.group_key(agent_id), by_name, c.model_name)
    )
    return [
        Pair(
            agent_id=_uuid(row["agent_id"]),
            by_name=row["by_name"],
            agent_name=row["agent_name"],
            least_name=row["least_name"],
            model=row["model_name"],
            counts={name: int(row[name] or 0) for name in COUNTS},
            cost=source.dialect.to_money(row["cost"]),
        )
        for row in (r._mapping for r in connection.execute(query))
    ]


def totals(pairs: Iterable[Pair], names: Sequence[str] = COUNTS) -> tuple[dict[str, int], Decimal]:
    """The counts called `names` (every count by default) summed, and the cost summed, over
    `pairs`."""
    counts = dict.fromkeys(names, 0)
    cost = Decimal(0)
    for pair in pairs:
        for name in names:
            counts[name] += pair.counts[name]
        cost += pair.cost
    return counts, cost


@dataclass(frozen=True)
class AgentTotals:
    """One agent's pairs added up: its id (None for an agent known by name only), its greatest
    name, every count and the cost."""

    agent_id: uuid.UUID | None
    agent_name: str | None
    counts: Mapping[str, int]
    cost: Decimal

    @property
    def tie_order(self) -> tuple[bool, str, bool, uuid.UUID]:
        """How agents alike in the measure sorted on go: by name (code point order, as the
        databases sort, none last), then by id (none last)."""
        name, agent_id = self.agent_name, self.agent_id
        return name is None, name or "", agent_id is None, agent_id or uuid.UUID(int=0)


def agent_totals(pairs: Iterable[Pair]) -> list[AgentTotals]:
    """`pairs` added up per agent (`Pair.agent`), in first-seen order."""
    found = []
    for (agent_id, _), members in grouped(pairs, lambda pair: pair.agent).items():
        counts, cost = totals(members)
        names = [pair.agent_name for pair in members if pair.agent_name is not None]
        found.append(AgentTotals(agent_id, max(names) if names else None, counts, cost))
    return found


def grouped(pairs: Iterable[Pair], key: Any) -> dict[Any, list[Pair]]:
    """`pairs` grouped by `key(pair)`, in first-seen order."""
    groups: dict[Any, list[Pair]] = {}
    for pair in pairs:
        groups.setdefault(key(pair), []).append(pair)
    return groups


def _uuid(value: Any) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    return uuid.UUID(str(value))
