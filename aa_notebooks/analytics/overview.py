"""`overview`: the dashboard summary in two queries over the window.

One GROUP BY (agent, model) query sums everything per pair; its few rows add up to the totals
and also give the active agents and the models to check for prices. A second query computes the
latency percentiles alone, reading only the narrow covering index. At 1M executions this is
faster on both databases than one aggregate plus a `count(DISTINCT ...)`, which sorts the window.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from aa_notebooks.analytics.dialect import quantize_money
from aa_notebooks.analytics.filters import EXECUTIONS, STATUSES, agent_groups, in_scope, in_window
from aa_notebooks.analytics.frames import ratio
from aa_notebooks.analytics.periods import Window
from aa_notebooks.analytics.results import Overview
from aa_notebooks.analytics.source import Source
from aa_notebooks.pricing import is_priced

PROJECTION_DAYS = 30
_SUMMED = ("executions", *STATUSES, "time_sum", "time_count", "input", "output", "tokens")


def unpriced_models(models: list[str | None]) -> tuple[str, ...]:
    """The named models that pricing does not know, sorted."""
    return tuple(sorted(m for m in models if m and not is_priced(m)))


def overview(source: Source, window: Window) -> Overview:
    """Totals, success rate, latency, cost, tokens and agents of the executions in `window`."""
    c = EXECUTIONS.c
    where = [in_window(window), *in_scope(source.user_id)]
    agent_id, by_name = agent_groups()
    per_pair = (
        select(
            agent_id,
            by_name,
            c.model_name,
            func.count().label("executions"),
            *(func.count().filter(c.status == s).label(s) for s in STATUSES),
            func.sum(c.execution_time_ms).label("time_sum"),
            func.count(c.execution_time_ms).label("time_count"),
            source.dialect.money_sum(c.cost_usd).label("cost"),
            func.sum(c.input_tokens).label("input"),
            func.sum(c.output_tokens).label("output"),
            func.sum(c.total_tokens).label("tokens"),
        )
        .where(*where)
        .group_by(source.dialect.group_key(agent_id), by_name, c.model_name)
    )
    latency = select(source.dialect.latency_percentiles(c.execution_time_ms)).where(*where)
    with source.connect() as connection:
        pairs = [row._mapping for row in connection.execute(per_pair)]
        percentiles = source.dialect.read_percentiles(connection.execute(latency).scalar_one())
    total: dict[str, Any] = {name: sum(p[name] or 0 for p in pairs) for name in _SUMMED}
    cost = sum((source.dialect.to_money(p["cost"]) for p in pairs), Decimal(0))
    agents = {(p["agent_id"], p["by_name"]) for p in pairs}
    agents.discard((None, None))  # executions attributed to no agent
    projection = cost / window.days * PROJECTION_DAYS if window.days else Decimal(0)
    return Overview(
        window=window,
        scope=source.scope,
        total_executions=total["executions"],
        executions_by_status={s: total[s] for s in STATUSES},
        success_rate=ratio(total["success"], total["executions"], 100),
        avg_response_time_ms=ratio(total["time_sum"], total["time_count"]),
        p50_ms=percentiles.p50,
        p95_ms=percentiles.p95,
        p99_ms=percentiles.p99,
        total_cost_usd=cost,
        monthly_projection_usd=quantize_money(projection),
        input_tokens=int(total["input"]),
        output_tokens=int(total["output"]),
        total_tokens=int(total["tokens"]),
        active_agents=len(agents),
        unpriced_models=unpriced_models([p["model_name"] for p in pairs]),
    )
