"""`overview`: the dashboard summary in three queries over the window (`rollup_source`).

The window's (agent, model) sums (`pairs`) add up to the totals and also give the active agents.
A second query computes the latency percentiles alone, reading only the narrow covering index.
At 1M executions this is faster on both databases than one aggregate plus a
`count(DISTINCT ...)`, which sorts the window. The third reads the usage rows whose model is not
their execution's (`model_split`), so the unpriced models are those of the cost by model,
tool calls and sub-agents included.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal

from aa_notebooks.analytics.caching import cache_figures, cache_savings
from aa_notebooks.analytics.dialect import quantize_money
from aa_notebooks.analytics.filters import STATUSES
from aa_notebooks.analytics.frames import ratio
from aa_notebooks.analytics.model_split import (
    Model,
    Sums,
    cost_coverage,
    execution_sums,
    recorded_unpriced,
    split_by_model,
    unpriced_models,
)
from aa_notebooks.analytics.pairs import totals
from aa_notebooks.analytics.periods import Window
from aa_notebooks.analytics.results import Overview
from aa_notebooks.analytics.rollup_source import WindowSums, window_sums
from aa_notebooks.analytics.source import Source

PROJECTION_DAYS = 30


def overview(
    source: Source,
    window: Window,
    unpriced: bool = True,
    exact: bool = False,
    caching: bool = False,
) -> Overview:
    """Totals, success rate, latency, cost, tokens and agents of the executions in `window`.

    `unpriced=False` leaves out the search for unpriced models among the usage rows (a join),
    for a comparison window whose warnings are not shown; only the executions' models are
    checked then. `exact=True` reads only the raw rows, not the rollups (`rollup_source`).
    `caching=True` adds the prompt cache's figures (`caching.cache_savings`: a fourth query, over
    the cache rollup and the window's partial hours of usage rows).
    """
    with source.connect() as connection:
        sums = window_sums(source, window, connection, moved=unpriced, exact=exact)
    models = split_by_model(execution_sums(sums.pairs), sums.moved)
    found = overview_from(source, window, sums, models)
    if not caching:
        return found
    share, saved = cache_figures(cache_savings(source, window, exact=exact))
    return replace(found, cache_hit_share=share, cache_saved_usd=saved)


def overview_from(
    source: Source, window: Window, sums: WindowSums, models: Mapping[Model, Sums]
) -> Overview:
    """The overview that the window's (agent, model) sums and latency percentiles add up to;
    `models` are those of its cost by model (the executions' and their usage rows')."""
    pairs, percentiles = sums.pairs, sums.percentiles
    total, cost = totals(pairs)
    agents = {pair.agent for pair in pairs}
    agents.discard((None, None))  # executions attributed to no agent
    elapsed = window.elapsed_days
    projection = cost / elapsed * PROJECTION_DAYS if elapsed else Decimal(0)
    by_status = {s: total[s] for s in STATUSES}
    if other := total["executions"] - sum(by_status.values()):
        by_status["other"] = other  # statuses another program wrote: the counts add up
    return Overview(
        window=window,
        scope=source.scope,
        total_executions=total["executions"],
        executions_by_status=by_status,
        success_rate=ratio(total["success"], total["executions"], 100),
        avg_response_time_ms=ratio(total["time_sum"], total["time_count"]),
        p50_ms=percentiles.p50,
        p95_ms=percentiles.p95,
        p99_ms=percentiles.p99,
        total_cost_usd=cost,
        monthly_projection_usd=quantize_money(projection),
        input_tokens=total["input"],
        output_tokens=total["output"],
        total_tokens=total["tokens"],
        active_agents=len(agents),
        unpriced_models=unpriced_models((model, sums.cost) for model, sums in models.items()),
        stored_unpriced=recorded_unpriced(models.items()),
        cost_coverage=cost_coverage(models.items()),
        source=sums.source,
        percentile_bound=sums.percentile_bound,
    )
