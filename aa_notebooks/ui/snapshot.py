"""Everything one dashboard refresh shows, fetched from the analytics layer for one window.

The window is resolved once, so every panel covers exactly the same span; the independent
queries run side by side on the engine's connection pool to keep a refresh short on big tables.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import pandas as pd

from aa_notebooks.analytics import Analytics, ExecutionRows, Overview, Table, Window
from aa_notebooks.analytics.choices import Bucket
from aa_notebooks.budgets import BudgetStatus
from aa_notebooks.errors import AnalyticsError
from aa_notebooks.ui.anomalies_panel import period_anomalies
from aa_notebooks.ui.budgets_panel import budget_statuses

HOURLY_UP_TO = timedelta(days=2)
TOP_AGENTS = 10
PARALLEL_QUERIES = 4
"""Queries a refresh runs at once; on SQLite no more than the machine has cores, as every
query then runs in this process (more threads only take turns: 90 days at 1M executions on
2 cores refreshed in about 320 ms with 2 threads against 380 ms with 4)."""


@dataclass(frozen=True, eq=False)
class Snapshot:
    """The analytics results behind every panel of one refresh."""

    client: Analytics
    """The client (and so the user scope) the results came from."""
    window: Window
    bucket: Bucket
    """"hour" for windows up to two days, else "day"."""
    overview: Overview
    previous: Overview
    """The overview of the window of the same length just before (for the KPI changes)."""
    activity: Table
    cost_by_model: Table
    cost_over_time: Table
    """Cost per bucket by model (`Analytics.cost_timeseries`)."""
    top_agents: Table
    executions: ExecutionRows
    """The window's executions for the grid (counted; rows are read as it scrolls)."""
    users: tuple[str, ...]
    """Users with executions in the window (for the scope list); empty for a scoped client."""
    budgets: Sequence[BudgetStatus] | str
    """The active budgets' statuses now (they have their own windows), or why there are none."""
    in_flight: pd.DataFrame | str
    """The runs going now, per agent (`Analytics.running(by_agent=True)`), or why not shown."""
    anomalies: pd.DataFrame | str
    """The window's anomalies by agent and by model (`period_anomalies`), or why not shown."""


def bucket_for(window: Window) -> Bucket:
    """Hourly buckets for short windows, daily ones otherwise."""
    return "hour" if window.duration <= HOURLY_UP_TO else "day"


Listing = Callable[[Analytics, Window], ExecutionRows]


def load(analytics: Analytics, base: Analytics, window: Window, listing: Listing) -> Snapshot:
    """Fetch every panel's result for `window` from `analytics`; users come from `base`, the
    executions list from `listing` (the grid's sort and filters)."""
    bucket = bucket_for(window)
    unscoped = base.user_id is None
    with ThreadPoolExecutor(
        query_threads(analytics), thread_name_prefix="aa-dashboard-query"
    ) as pool:
        current = pool.submit(analytics.breakdown, window, limit=TOP_AGENTS)
        previous = pool.submit(analytics.overview, window.previous(), unpriced=False)
        activity = pool.submit(analytics.timeseries, window, bucket=bucket)
        over_time = pool.submit(analytics.cost_timeseries, window, bucket=bucket, by="model")
        executions = pool.submit(listing, analytics, window)
        users = pool.submit(base.active_users, window) if unscoped else None
        budgets = pool.submit(budget_statuses, analytics)
        in_flight = pool.submit(runs_in_flight, analytics)
        anomalies = pool.submit(period_anomalies, analytics, window)
        summary = current.result()
        listed = executions.result()
        if listed.takes_count and listed.window == window:  # counted by the overview already
            listed.take_count(summary.overview.total_executions)
        return Snapshot(
            client=analytics,
            window=window,
            bucket=bucket,
            overview=summary.overview,
            previous=previous.result(),
            activity=activity.result(),
            cost_by_model=summary.cost_by_model,
            cost_over_time=over_time.result(),
            top_agents=summary.top_agents,
            executions=listed,
            users=users.result() if users else (),
            budgets=budgets.result(),
            in_flight=in_flight.result(),
            anomalies=anomalies.result(),
        )


def query_threads(analytics: Analytics) -> int:
    """How many of a refresh's queries run at once (PARALLEL_QUERIES)."""
    if analytics.url.get_backend_name() == "sqlite":
        return max(1, min(PARALLEL_QUERIES, os.cpu_count() or 1))
    return PARALLEL_QUERIES


def runs_in_flight(analytics: Analytics) -> pd.DataFrame | str:
    """The runs in flight per agent; a database error as the sentence the panel shows."""
    try:
        return analytics.running(by_agent=True)
    except AnalyticsError as exc:
        return f"Runs in flight are not available: {exc}"
