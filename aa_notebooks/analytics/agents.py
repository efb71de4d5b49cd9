"""`agent_stats` (one agent, with a daily series) and `top_agents` (the most used agents).

An agent is its agent_id where set, else its agent_name, as `active_agents` counts them.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, select

from aa_notebooks.analytics.filters import EXECUTIONS, agent_column, in_scope
from aa_notebooks.analytics.frames import ratio, to_frame
from aa_notebooks.analytics.pairs import Pair, agent_totals, totals
from aa_notebooks.analytics.periods import Window
from aa_notebooks.analytics.results import AgentStats, Table
from aa_notebooks.analytics.rollup_source import window_sums
from aa_notebooks.analytics.source import Source
from aa_notebooks.analytics.timeseries import timeseries
from aa_notebooks.errors import InvalidInputError, NotFoundError

TOP_AGENT_COLUMNS = (
    "agent", "agent_id", "agent_name", "executions", "success_rate", "avg_response_time_ms",
    "cost_usd",
)  # fmt: skip
MAX_LIMIT = 1000


def agent_stats(
    source: Source, window: Window, agent: uuid.UUID | str, *, exact: bool = False
) -> AgentStats:
    """Executions, success rate, latency, tokens, cost, models and a daily series of one agent.

    A UUID matches agent_id, any other text agent_name; an agent with no executions at all
    (in scope) is a NotFoundError, one with none in the window gives zeros. The figures are the
    window's (agent, model) sums kept to that agent, so they come through the rollups as the
    breakdown's do (P95 within the sketches' bound above EXACT_PERCENTILES_UP_TO executions);
    `exact` reads the raw rows.
    """
    column, value = agent_column(agent)
    one = source.narrowed(column, value)
    with one.connect() as connection:
        sums = window_sums(one, window, connection, moved=False, exact=exact)
        if not sums.pairs and not _exists(one, connection):
            who = "" if source.user_id is None else f" for {source.scope}"
            raise NotFoundError(f"no executions of agent {str(agent)!r}{who}: check the id or name")
    counts, cost = totals(sums.pairs)
    names = [pair.agent_name for pair in sums.pairs if pair.agent_name is not None]
    return AgentStats(
        window=window,
        scope=source.scope,
        agent=str(agent),
        agent_id=value if isinstance(value, uuid.UUID) else None,
        agent_name=max(names, default=None),
        total_executions=counts["executions"],
        success_rate=ratio(counts["success"], counts["executions"], 100),
        avg_response_time_ms=ratio(counts["time_sum"], counts["time_count"]),
        p95_ms=sums.percentiles.p95,
        input_tokens=counts["input"],
        output_tokens=counts["output"],
        total_tokens=counts["tokens"],
        total_cost_usd=cost,
        models_used=tuple(sorted({pair.model for pair in sums.pairs if pair.model is not None})),
        daily=timeseries(one, window, "day", exact=exact).frame,
        source=sums.source,
        percentile_bound=sums.percentile_bound,
        agents_named=len({pair.agent_id for pair in sums.pairs}) if column == "agent_name" else 1,
    )


def _exists(source: Source, connection: Connection) -> bool:
    """Whether the source (an agent's executions) holds any execution at all."""
    query = select(EXECUTIONS.c.id).where(*in_scope(source)).limit(1)
    return connection.execute(query).first() is not None


def top_agents(source: Source, window: Window, limit: int) -> Table:
    """The `limit` agents with the most executions in the window.

    Columns: agent (its name, else its id), agent_id, agent_name, executions, success_rate,
    avg_response_time_ms, cost_usd. Ties go by name, then id.
    """
    check_limit(limit)
    with source.connect() as connection:
        sums = window_sums(source, window, connection, moved=False, percentiles=False)
    return top_agents_from(source, window, sums.pairs, limit)


def check_limit(limit: int) -> None:
    """InvalidInputError unless `limit` is a whole number 1-MAX_LIMIT."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError(f"limit must be a whole number 1-{MAX_LIMIT}; got {limit!r}")


def top_agents_from(source: Source, window: Window, pairs: list[Pair], limit: int) -> Table:
    """The top agents that the window's (agent, model) sums add up to."""
    attributed = (pair for pair in pairs if pair.agent != (None, None))
    # Most executions first; ties by name, then id.
    agents = sorted(agent_totals(attributed), key=lambda a: (-a.counts["executions"], *a.tie_order))
    records = [
        {
            "agent": agent.agent_name or str(agent.agent_id),
            "agent_id": agent.agent_id,
            "agent_name": agent.agent_name,
            "executions": agent.counts["executions"],
            "success_rate": ratio(agent.counts["success"], agent.counts["executions"], 100),
            "avg_response_time_ms": ratio(agent.counts["time_sum"], agent.counts["time_count"]),
            "cost_usd": agent.cost,
        }
        for agent in agents
    ]
    frame = to_frame(
        records[:limit], TOP_AGENT_COLUMNS, money=("cost_usd",), floats=("avg_response_time_ms",)
    )
    return Table("Top agents", window, source.scope, frame)
