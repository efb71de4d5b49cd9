"""Two things the dashboard needs that `Analytics` has no public call for yet, kept in one place.

- cost over time by model: the analytics layer's own `timeseries`, narrowed to one model with its
  own `ExecutionFilter`, once per model (wanted: one grouped query, e.g.
  `Analytics.cost_timeseries(period, bucket=..., by="model")`);
- a client for another user scope on the same database and clock (wanted: e.g.
  `Analytics.scoped(user_id)`).

Both reach into the client's source; when the public calls exist, this module goes away.
"""

from __future__ import annotations

import pandas as pd

from aa_notebooks.analytics import Analytics, Window, connect
from aa_notebooks.analytics.filters import ExecutionFilter
from aa_notebooks.analytics.timeseries import timeseries

COST_BY_MODEL_COLUMNS = ("bucket", "model", "cost_usd")


def cost_over_time_by_model(
    analytics: Analytics, window: Window, bucket: str, models: list[str]
) -> pd.DataFrame:
    """Cost per bucket for each named model (executions without a model are left out)."""
    source = analytics._source
    frames = [
        timeseries(source, window, bucket, ExecutionFilter(model=model).clauses())
        .frame[["bucket", "cost_usd"]]
        .assign(model=model)
        for model in models
    ]
    if not frames:
        return pd.DataFrame(columns=list(COST_BY_MODEL_COLUMNS))
    return pd.concat(frames, ignore_index=True)[list(COST_BY_MODEL_COLUMNS)]


def scoped(analytics: Analytics, user_id: str) -> Analytics:
    """A client like `analytics` (same database and clock) showing only `user_id`'s executions."""
    return connect(analytics._source.engine.url, user_id=user_id, now=analytics._now)
