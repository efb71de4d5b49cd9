"""`agent_stats` (one agent, with a daily series) and `top_agents` (the most used agents).

An agent is its agent_id where set, else its agent_name, as `active_agents` counts them.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, func, select
from sqlalchemy.sql.elements import ColumnElement

from aa_notebooks.analytics.filters import EXECUTIONS, agent_match, in_scope, in_window, is_success
from aa_notebooks.analytics.frames import ratio, to_frame
from aa_notebooks.analytics.pairs import Pair, agent_totals
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


def _exists(connection: Connection, where: list[ColumnElement[bool]]) -> bool:
    return connection.execute(select(EXECUTIONS.c.id).where(*where).limit(1)).first() is not None


def agent_stats(source: Source, window: Window, agent: uuid.UUID | str) -> AgentStats:
    """Executions, success rate, latency, tokens, cost, models and a daily series of one agent.

    A UUID matches agent_id, any other text agent_name; an agent with no executions at all
    (in scope) is a NotFoundError, one with none in the window gives zeros.
    """
    match, agent_id = agent_match(agent)
    c = EXECUTIONS.c
    where = [match, *in_scope(source.user_id)]
    totals = select(
        func.count().label("executions"),
        func.sum(is_success()).label("successes"),
        func.sum(c.execution_time_ms).label("time_sum"),
        func.count(c.execution_time_ms).label("time_count"),
        source.dialect.latency_percentiles(c.execution_time_ms).label("percentiles"),
        source.dialect.money_sum(c.cost_usd).label("cost"),
        func.sum(c.input_tokens).label("input_tokens"),
        func.sum(c.output_tokens).label("output_tokens"),
        func.sum(c.total_tokens).label("total_tokens"),
        func.max(source.dialect.text_order(c.agent_name)).label("agent_name"),
    ).where(in_window(window), *where)
    models = select(c.model_name).where(in_window(window), *where, c.model_name.isnot(None))
    with source.connect() as connection:
        row = connection.execute(totals).one()._mapping
        if not row["executions"] and not _exists(connection, where):
            who = "" if source.user_id is None else f" for {source.scope}"
            raise NotFoundError(f"no executions of agent {str(agent)!r}{who}: check the id or name")
        names = sorted(connection.execute(models.distinct()).scalars())
    return AgentStats(
        window=window,
        scope=source.scope,
        agent=str(agent),
        agent_id=agent_id,
        agent_name=row["agent_name"],
        total_executions=row["executions"],
        success_rate=ratio(row["successes"] or 0, row["executions"], 100),
        avg_response_time_ms=ratio(row["time_sum"] or 0, row["time_count"]),
        p95_ms=source.dialect.read_percentiles(row["percentiles"]).p95,
        input_tokens=int(row["input_tokens"] or 0),
        output_tokens=int(row["output_tokens"] or 0),
        total_tokens=int(row["total_tokens"] or 0),
        total_cost_usd=source.dialect.to_money(row["cost"]),
        models_used=tuple(names),
        daily=timeseries(source, window, "day", [match]).frame,
    )


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
