"""`breakdown`: the overview, the top agents and the cost by model from one pass over the window.

Each is exactly what its own function returns. The overview's totals, the top agents and the
executions' own sums per model derive from the same (agent, model) sums (see `pairs`); the
cost by model adds the usage rows that belong to another model than their execution's (see
`model_split`), whose models are also the overview's models to check for prices. Together they
cost one GROUP BY over the executions, one over the moved usage rows and one percentile query,
instead of running the (agent, model) pass three times, which is what keeps a dashboard refresh
short at a million executions.
"""

from __future__ import annotations

from aa_notebooks.analytics.agents import check_limit, top_agents_from
from aa_notebooks.analytics.costs import cost_by_model_from
from aa_notebooks.analytics.model_split import execution_sums, load_moved, split_by_model
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
        moved = load_moved(source, window, connection)
    split = split_by_model(execution_sums(pairs), moved)
    return Breakdown(
        overview=overview_from(source, window, pairs, percentiles, split),
        top_agents=top_agents_from(source, window, pairs, limit),
        cost_by_model=cost_by_model_from(source, window, split),
    )
