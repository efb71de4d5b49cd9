"""`connect` and `Analytics`: one method per endpoint of the data contract's analytics API.

Every method takes the window as `period` ("24h", "7d", "30d", "90d", any positive Nh/Nd/Nw,
or a `Window`) or as inclusive UTC `start_date`/`end_date`; with none given the window is the
last 7 days (`[now - 7d, now]`). Results are scoped to `user_id` when one was given.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields as dataclass_fields
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy.engine import URL

from aa_notebooks.analytics import (
    agents,
    anomalies,
    caching,
    costs,
    executions,
    forecast,
    models,
    overview,
    running,
)
from aa_notebooks.analytics.adhoc_sql import run_sql
from aa_notebooks.analytics.breakdown import breakdown
from aa_notebooks.analytics.buckets import check_bucket
from aa_notebooks.analytics.choices import (
    AnomalyBy,
    Bucket,
    CostBy,
    CostSeriesBy,
    SortColumn,
    SortOrder,
)
from aa_notebooks.analytics.cost_timeseries import cost_timeseries
from aa_notebooks.analytics.execution_rows import ExecutionRows
from aa_notebooks.analytics.export import export
from aa_notebooks.analytics.filters import ExecutionFilter, parse_uuid
from aa_notebooks.analytics.live import LiveView
from aa_notebooks.analytics.periods import Window, resolve_window
from aa_notebooks.analytics.results import (
    AgentStats,
    Breakdown,
    CostForecast,
    ExecutionDetail,
    ExecutionPage,
    ExportResult,
    Overview,
    Table,
)
from aa_notebooks.analytics.source import Source
from aa_notebooks.analytics.timeseries import timeseries
from aa_notebooks.analytics.users import active_users
from aa_notebooks.db.url import mask_url, require_database
from aa_notebooks.errors import InvalidInputError
from aa_notebooks.validation import clock_reading, utc_now

Period = str | Window | None
Day = str | date | None


class Analytics:
    """Analytics over one database for one scope (all users, or one user's executions).

    Each method's window is `period` or `start_date`/`end_date`; without them, the last 7 days.
    """

    def __init__(self, source: Source, now: Callable[[], datetime] = utc_now) -> None:
        self._source = source
        self._now = now

    @property
    def url(self) -> URL:
        """The database these analytics read."""
        return self._source.engine.url

    @property
    def user_id(self) -> uuid.UUID | None:
        """The user whose executions results show (None: all users)."""
        return self._source.user_id

    @property
    def scope(self) -> str:
        """Whose executions results show: "all users" or "user <id>"."""
        return self._source.scope

    @property
    def stored_time_problems(self) -> list[str]:
        """One line per column whose times SQLite cannot compare (found when connecting, and
        warned of then): for a report, whose reader sees no warnings, to say so itself."""
        return [
            f"{finding}; `aa-notebooks check-db` gives the UPDATE that mends them"
            for finding in self._source.check.time_findings()
        ]

    def __repr__(self) -> str:
        return f"Analytics({mask_url(self._source.engine.url)}, {self.scope})"

    def now(self) -> datetime:
        """The current time from the injected clock, aware UTC."""
        return clock_reading(self._now)

    def window(self, period: Period = None, start_date: Day = None, end_date: Day = None) -> Window:
        """The window these arguments select (default 7d); `.previous()` is the one before it."""
        return resolve_window(period, start_date, end_date, self.now())

    def overview(
        self,
        period: Period = None,
        *,
        start_date: Day = None,
        end_date: Day = None,
        unpriced: bool = True,
        exact: bool = False,
        caching: bool = False,
    ) -> Overview:
        """Dashboard summary: executions, success rate, latency percentiles, cost, tokens.

        `unpriced=False` skips looking for unpriced models in the usage rows (a join over them),
        for a window only compared against; its `unpriced_models` then names only executions'
        own models. `exact=True` reads only the raw rows, not the rollups (an audit).
        `caching=True` adds the prompt cache's hit share and saving (`cache_savings`), which
        reads every usage row of the window: about ten times the overview's time at 1M.
        """
        window = self.window(period, start_date, end_date)
        return overview.overview(self._source, window, unpriced, exact, caching)

    def executions(
        self,
        page: int = 1,
        page_size: int = 20,
        *,
        status: str | None = None,
        agent_id: uuid.UUID | str | None = None,
        agent_name: str | None = None,
        model: str | None = None,
        period: Period = None,
        start_date: Day = None,
        end_date: Day = None,
        sort_by: SortColumn = "started_at",
        sort_order: SortOrder = "desc",
        min_cost: Decimal | float | str | None = None,
        max_cost: Decimal | float | str | None = None,
        min_duration_ms: int | None = None,
        max_duration_ms: int | None = None,
        search: str | None = None,
        offset: int | None = None,
    ) -> ExecutionPage:
        """A page (1-based, page_size 1-1000) of the window's executions, filtered and sorted.

        Cost (USD) and duration (ms) bounds are inclusive; `search` finds text in the query
        preview, ignoring case (on SQLite, that of ASCII letters only). `offset` (rows to skip)
        replaces `page` when given.
        """
        filters = ExecutionFilter(
            status, agent_id, agent_name, model,
            min_cost, max_cost, min_duration_ms, max_duration_ms, search,
        )  # fmt: skip
        window = self.window(period, start_date, end_date)
        return executions.executions(
            self._source, window, page, page_size, filters, sort_by, sort_order, offset
        )

    def execution_rows(
        self,
        *,
        period: Period = None,
        start_date: Day = None,
        end_date: Day = None,
        sort_by: SortColumn = "started_at",
        sort_order: SortOrder = "desc",
        count_later: bool = False,
        **filters: Any,
    ) -> ExecutionRows:
        """The window's executions as a list read by row range (`.rows(offset, limit)`), for
        grids that scroll through all of them; filters are those of `executions`. With
        `count_later`, a long list sorted by time is counted by `start_mapping` (see
        `ExecutionRows`)."""
        known = {f.name for f in dataclass_fields(ExecutionFilter)}
        unknown = sorted(set(filters) - known)
        if unknown:
            raise InvalidInputError(
                f"unknown filter {', '.join(unknown)}; the filters are {', '.join(sorted(known))}"
            )
        window = self.window(period, start_date, end_date)
        return ExecutionRows(
            self._source,
            window,
            ExecutionFilter(**filters),
            sort_by,
            sort_order,
            count_later=count_later,
        )

    def execution(self, id: uuid.UUID | str) -> ExecutionDetail:
        """One execution with its trace steps (by step number) and token usage by component."""
        return executions.execution(self._source, id)

    def agent_stats(
        self,
        agent: uuid.UUID | str,
        period: Period = None,
        *,
        start_date: Day = None,
        end_date: Day = None,
        exact: bool = False,
    ) -> AgentStats:
        """One agent (a UUID matches agent_id, other text agent_name): totals and a daily series;
        `exact` reads the raw rows instead of the rollups (P95 exact)."""
        window = self.window(period, start_date, end_date)
        return agents.agent_stats(self._source, window, agent, exact=exact)

    def breakdown(
        self,
        period: Period = None,
        *,
        start_date: Day = None,
        end_date: Day = None,
        limit: int = 10,
        exact: bool = False,
    ) -> Breakdown:
        """`overview`, `top_agents` and `cost_summary(by="model")` of one window in one pass:
        the same results, for a third of the database's work (what the dashboard shows).
        `exact=True` reads only the raw rows, not the rollups."""
        window = self.window(period, start_date, end_date)
        return breakdown(self._source, window, limit, exact)

    def active_users(
        self, period: Period = None, *, start_date: Day = None, end_date: Day = None
    ) -> tuple[str, ...]:
        """The ids of the users with executions in the window, sorted (for a scope selector)."""
        return active_users(self._source, self.window(period, start_date, end_date))

    def top_agents(
        self,
        period: Period = None,
        *,
        start_date: Day = None,
        end_date: Day = None,
        limit: int = 10,
    ) -> Table:
        """The most used agents: executions, success rate, average time and cost."""
        return agents.top_agents(self._source, self.window(period, start_date, end_date), limit)

    def cost_summary(
        self,
        period: Period = None,
        *,
        start_date: Day = None,
        end_date: Day = None,
        by: CostBy = "model",
        exact: bool = False,
    ) -> Table:
        """Cost, tokens, executions and share of the total by "model", "agent", "user" or "day";
        `exact` reads the raw rows instead of the rollups (the same sums)."""
        window = self.window(period, start_date, end_date)
        return costs.cost_summary(self._source, window, by, exact=exact)

    def cache_savings(
        self,
        period: Period = None,
        *,
        start_date: Day = None,
        end_date: Day = None,
        exact: bool = False,
    ) -> Table:
        """Per model: input tokens, prompt-cache reads and writes, the cache hit share (percent
        of input read from the cache) and the USD caching saved against the input rate;
        `exact` reads the raw rows instead of the rollups."""
        window = self.window(period, start_date, end_date)
        return caching.cache_savings(self._source, window, exact=exact)

    def cost_forecast(
        self,
        period: Period = None,
        *,
        start_date: Day = None,
        end_date: Day = None,
        exact: bool = False,
    ) -> CostForecast:
        """This month's projected cost (UTC) with a low/high band.

        The window is the lookback that sets the daily rate: by default the last 7 complete UTC
        days; a period of N days means the last N complete days. `exact` reads the raw rows
        instead of the rollups (the same sums).
        """
        now = self.now()
        lookback = forecast.lookback_window(period, start_date, end_date, now)
        return forecast.cost_forecast(self._source, lookback, now, exact=exact)

    def compare_models(
        self,
        period: Period = None,
        *,
        start_date: Day = None,
        end_date: Day = None,
        exact: bool = False,
    ) -> Table:
        """Per model: executions, success rate, average/P95 latency, tokens, cost efficiency;
        `exact` reads the raw rows instead of the rollups."""
        window = self.window(period, start_date, end_date)
        return models.compare_models(self._source, window, exact=exact)

    def timeseries(
        self,
        period: Period = None,
        *,
        start_date: Day = None,
        end_date: Day = None,
        bucket: Bucket = "day",
        exact: bool = False,
    ) -> Table:
        """Executions, success rate, average and P95 latency and cost per "hour" or "day" bucket;
        `exact` reads the raw rows instead of the rollups (percentiles exact)."""
        window = self.window(period, start_date, end_date)
        return timeseries(self._source, window, check_bucket(bucket), exact=exact)

    def cost_timeseries(
        self,
        period: Period = None,
        *,
        start_date: Day = None,
        end_date: Day = None,
        bucket: Bucket = "day",
        by: CostSeriesBy = "model",
        exact: bool = False,
    ) -> Table:
        """Executions, cost and tokens per "hour" or "day" bucket for each "model" or "agent";
        `exact` reads the raw rows instead of the rollups."""
        window = self.window(period, start_date, end_date)
        return cost_timeseries(self._source, window, bucket, by, exact=exact)

    def anomalies(
        self,
        period: Period = None,
        *,
        start_date: Day = None,
        end_date: Day = None,
        by: AnomalyBy | Sequence[AnomalyBy] = "agent",
        agent: uuid.UUID | str | None = None,
        model: str | None = None,
        baseline_days: int = 28,
        threshold: float = 3.5,
        exact: bool = False,
    ) -> Table:
        """Days of the window on which an agent's (or a model's) cost, P95 latency or failure
        rate broke from its previous `baseline_days` days (robust z >= `threshold` and a
        material change); `by=["agent", "model"]` finds both in one read; `agent` (id or name)
        and `model` narrow the executions read; `exact` reads the raw rows instead of the
        rollups (P95 exact)."""
        window = self.window(period, start_date, end_date)
        source = anomalies.narrowed(self._source, agent, model)
        return anomalies.anomalies(
            source, window, self.now(), by, baseline_days, threshold, exact=exact
        )

    def scoped(self, user_id: uuid.UUID | str | None) -> Analytics:
        """A client on the same database and clock showing `user_id`'s executions (None: all)."""
        owner = None if user_id is None else parse_uuid(user_id, "user_id")
        return Analytics(replace(self._source, user_id=owner), self._now)

    def export(
        self,
        format: str = "csv",
        period: Period = None,
        *,
        start_date: Day = None,
        end_date: Day = None,
        path: str | os.PathLike[str] | None = None,
        include_traces: bool = False,
        include_token_usage: bool = False,
        escape_formulas: bool = True,
    ) -> str | ExportResult:
        """The window's executions as "csv" or "json", streamed in chunks.

        Returns the text when `path` is None, else writes the file and returns an ExportResult.
        Trace steps and token usage are nested per execution when included (JSON text in CSV).
        CSV text cells that a spreadsheet would run as formulas get a leading `'` unless
        `escape_formulas=False` (for round trips into pandas).
        """
        window = self.window(period, start_date, end_date)
        return export(
            self._source, window, format, path, include_traces, include_token_usage, escape_formulas
        )

    def live(self, window: Window, bucket: Bucket = "hour") -> LiveView:
        """`window`'s numbers as of now, made current by `.tick()` (what live mode reads): each
        tick adds only the executions completed since the last one (percentiles within 1%)."""
        return LiveView.open(self._source, window, check_bucket(bucket), self.now())

    def running(self, agent: str | None = None, *, by_agent: bool = False) -> pd.DataFrame:
        """The runs in flight now, oldest first: each `running`, or `lost` once its process
        stopped sending heartbeats; `by_agent=True` counts them per agent with the oldest's age.
        Only runs of trackers (going for over a second) are seen: other recording paths store
        an execution when it ends."""
        runs = running.running(self._source, self.now(), agent)
        return running.by_agent(runs) if by_agent else runs

    def sql(self, query: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run a read-only query, `:name` placeholders bound from `params`; rows as a DataFrame."""
        return run_sql(self._source, query, params)


def connect(
    url: str | URL | None = None,
    *,
    user_id: uuid.UUID | str | None = None,
    now: Callable[[], datetime] | None = None,
) -> Analytics:
    """Analytics over the database at `url` (else $AA_DATABASE_URL, else the default SQLite file).

    `user_id` scopes every result to that user's executions (None: all users); `now` is a
    zero-argument clock returning an aware UTC datetime (default: the real clock), for tests.
    """
    owner = None if user_id is None else parse_uuid(user_id, "user_id")
    source = Source.open(require_database(url), owner)
    return Analytics(source, now or utc_now)
