"""`connect` and `Analytics`: one method per endpoint of the product document's analytics API.

Every method takes the window as `period` ("24h", "7d", "30d", "90d", any positive Nh/Nd/Nw,
or a `Window`) or as inclusive UTC `start_date`/`end_date`; with none given the window is the
last 7 days (`[now - 7d, now]`). Results are scoped to `user_id` when one was given.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy.engine import URL

from aa_notebooks.analytics import agents, costs, executions, forecast, models, overview
from aa_notebooks.analytics.adhoc_sql import run_sql
from aa_notebooks.analytics.breakdown import breakdown
from aa_notebooks.analytics.cost_timeseries import cost_timeseries
from aa_notebooks.analytics.export import export
from aa_notebooks.analytics.filters import ExecutionFilter, parse_uuid
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

if TYPE_CHECKING:
    from aa_notebooks.budgets.evaluation import Evaluation
    from aa_notebooks.budgets.status import BudgetStatusList

Period = str | Window | None
Day = str | date | None


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Analytics:
    """Analytics over one database for one scope (all users, or one user's executions).

    Each method's window is `period` or `start_date`/`end_date`; without them, the last 7 days.
    """

    def __init__(self, source: Source, now: Callable[[], datetime] = _utc_now) -> None:
        self._source = source
        self._now = now

    @property
    def scope(self) -> str:
        """Whose executions results show: "all users" or "user <id>"."""
        return self._source.scope

    def __repr__(self) -> str:
        return f"Analytics({mask_url(self._source.engine.url)}, {self.scope})"

    def now(self) -> datetime:
        """The current time from the injected clock, aware UTC."""
        moment = self._now()
        if moment.tzinfo is None:
            raise InvalidInputError("the `now` clock must return an aware datetime (UTC)")
        return moment.astimezone(UTC)

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
    ) -> Overview:
        """Dashboard summary: executions, success rate, latency percentiles, cost, tokens.

        `unpriced=False` skips looking for unpriced models in the usage rows (a join over them),
        for a window only compared against; its `unpriced_models` then names only executions'
        own models. `exact=True` reads only the raw rows, not the rollups (an audit).
        """
        window = self.window(period, start_date, end_date)
        return overview.overview(self._source, window, unpriced, exact)

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
        sort_by: str = "started_at",
        sort_order: str = "desc",
    ) -> ExecutionPage:
        """A page (1-based, page_size 1-1000) of the window's executions, filtered and sorted."""
        filters = ExecutionFilter(status, agent_id, agent_name, model)
        window = self.window(period, start_date, end_date)
        return executions.executions(
            self._source, window, page, page_size, filters, sort_by, sort_order
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
    ) -> AgentStats:
        """One agent (a UUID matches agent_id, other text agent_name): totals and a daily series."""
        return agents.agent_stats(self._source, self.window(period, start_date, end_date), agent)

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
        by: str = "model",
    ) -> Table:
        """Cost, tokens, executions and share of the total by "model", "agent", "user" or "day"."""
        return costs.cost_summary(self._source, self.window(period, start_date, end_date), by)

    def cost_forecast(
        self, period: Period = None, *, start_date: Day = None, end_date: Day = None
    ) -> CostForecast:
        """This month's projected cost (UTC) with a low/high band.

        The window is the lookback that sets the daily rate: by default the last 7 complete UTC
        days; a period of N days means the last N complete days.
        """
        now = self.now()
        lookback = forecast.lookback_window(period, start_date, end_date, now)
        return forecast.cost_forecast(self._source, lookback, now)

    def compare_models(
        self, period: Period = None, *, start_date: Day = None, end_date: Day = None
    ) -> Table:
        """Per model: executions, success rate, average/P95 latency, tokens, cost efficiency."""
        return models.compare_models(self._source, self.window(period, start_date, end_date))

    def timeseries(
        self,
        period: Period = None,
        *,
        start_date: Day = None,
        end_date: Day = None,
        bucket: str = "day",
    ) -> Table:
        """Executions, success rate, average and P95 latency and cost per "hour" or "day" bucket."""
        return timeseries(self._source, self.window(period, start_date, end_date), bucket)

    def cost_timeseries(
        self,
        period: Period = None,
        *,
        start_date: Day = None,
        end_date: Day = None,
        bucket: str = "day",
        by: str = "model",
    ) -> Table:
        """Executions, cost and tokens per "hour" or "day" bucket for each "model" or "agent"."""
        window = self.window(period, start_date, end_date)
        return cost_timeseries(self._source, window, bucket, by)

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

    def budgets(self, *, active_only: bool = False) -> pd.DataFrame:
        """The budget alerts (this user's when scoped), one row each."""
        from aa_notebooks.budgets import list_budgets

        return list_budgets(self._source.engine.url, user_id=self._source.user_id,
                            active_only=active_only)  # fmt: skip

    def create_budget(self, **fields: Any) -> Any:
        """Create a budget; the document's POST body is accepted as it is."""
        from aa_notebooks.budgets import create_budget

        if self._source.user_id is not None:
            fields.setdefault("user_id", self._source.user_id)
        return create_budget(self._source.engine.url, **fields)

    def update_budget(self, budget_id: uuid.UUID | str, **changes: Any) -> Any:
        """Change some fields of a budget (re-validated as a whole)."""
        from aa_notebooks.budgets import update_budget

        return update_budget(self._source.engine.url, budget_id, **changes)

    def delete_budget(self, budget_id: uuid.UUID | str) -> None:
        """Delete a budget and its alert history."""
        from aa_notebooks.budgets import delete_budget

        delete_budget(self._source.engine.url, budget_id)

    def budget_status(self) -> BudgetStatusList:
        """Per active budget: spend in its rolling window, percent used, status, projection.

        Read only: nothing is written back, recorded or emailed (that is `evaluate_budgets`);
        `.email_warning` says when alerts are due that the email settings cannot send.
        """
        from aa_notebooks.budgets.reading import budget_status

        return budget_status(self._source.engine.url, user_id=self._source.user_id,
                             now=self.now())  # fmt: skip

    def evaluate_budgets(self, *, mailer: Any = None) -> Evaluation:
        """Write each active budget's spend back, record the alerts due and email the pending
        ones (`mailer`: an `AlertMailer`, else the settings in the environment); returns what
        was done."""
        from aa_notebooks.budgets.evaluation import evaluate_budgets

        return evaluate_budgets(self._source.engine.url, user_id=self._source.user_id,
                                now=self.now(), mailer=mailer)  # fmt: skip

    def budget_spend_daily(
        self, *, budget_ids: Iterable[uuid.UUID | str] | None = None
    ) -> pd.DataFrame:
        """Per active budget, its spend per UTC day of its rolling window with the running total,
        threshold and alert level (for burn-down charts)."""
        from aa_notebooks.budgets.history import budget_spend_daily

        return budget_spend_daily(self._source.engine.url, user_id=self._source.user_id,
                                  now=self.now(), budget_ids=budget_ids)  # fmt: skip

    def budget_alert_events(
        self, period: Period = None, *, start_date: Day = None, end_date: Day = None
    ) -> pd.DataFrame:
        """The budget alert events (warning, exceeded) that fired in the window, newest first."""
        from aa_notebooks.budgets.history import budget_alert_events

        window = self.window(period, start_date, end_date)
        return budget_alert_events(self._source.engine.url, window, user_id=self._source.user_id)

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
    return Analytics(source, now or _utc_now)
