"""`breakdown`: the overview, the top agents and the cost by model from one pass over the window.

Each is exactly what its own function returns (they derive from the same (agent, model) sums,
see `pairs`); together they cost one GROUP BY and one percentile query instead of three
GROUP BYs, which is what keeps a dashboard refresh short at a million executions.
"""

from __future__ import annotations

from aa_notebooks.analytics.agents import check_limit, top_agents_from
from aa_notebooks.analytics.costs import cost_by_model_from
from aa_notebooks.analytics.overview import latency, overview_from
from aa_notebooks.analytics.pairs import load_pairs
from aa_notebooks.analytics.periods import Window
from aa_notebooks.analytics.results import Breakdown
from aa_notebooks.analytics.source import Source


def breakdown(source: Source, window: Window, limit: int) -> Breakdown:
    """The window's overview, its `limit` top agents and its cost by model."""
    check_limit(limit)
    with source.connect() as connection:
        pairs = load_pairs(source, window, connection)
        percentiles = latency(source, window, connection)
    return Breakdown(
        overview=overview_from(source, window, pairs, percentiles),
        top_agents=top_agents_from(source, window, pairs, limit),
        cost_by_model=cost_by_model_from(source, window, pairs),
    )
