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
from aa_notebooks.analytics.model_split import execution_sums, split_by_model
from aa_notebooks.analytics.overview import overview_from
from aa_notebooks.analytics.periods import Window
from aa_notebooks.analytics.results import Breakdown
from aa_notebooks.analytics.rollup_source import window_sums
from aa_notebooks.analytics.source import Source


def breakdown(source: Source, window: Window, limit: int, exact: bool = False) -> Breakdown:
    """The window's overview, its `limit` top agents and its cost by model; from the rollups
    where they answer, unless `exact` (`rollup_source`)."""
    check_limit(limit)
    with source.connect() as connection:
        sums = window_sums(source, window, connection, exact=exact)
    split = split_by_model(execution_sums(sums.pairs), sums.moved)
    return Breakdown(
        overview=overview_from(source, window, sums, split),
        top_agents=top_agents_from(source, window, sums.pairs, limit),
        cost_by_model=cost_by_model_from(source, window, split, sums.source),
    )
