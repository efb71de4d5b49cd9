"""The typed results of the analytics functions: what the API, widgets and reports consume.

Each has the `window` it covers (where it takes one), its `scope` ("all users" or "user <id>"),
`to_frame()` for a DataFrame with that metadata in `attrs` (what the magic returns), a short
`repr`, a readable text form and an escaped `_repr_html_`. Money is Decimal here and a 6-place
float in frames; rates are percentages (0-100); durations are milliseconds; None means unknown
(nothing to measure), never zero.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from aa_notebooks import formatting as fmt
from aa_notebooks.analytics import render
from aa_notebooks.analytics.frames import described, rounded
from aa_notebooks.analytics.model_split import reprice_note, unpriced_note
from aa_notebooks.analytics.periods import Window


class Readable:
    """Text forms shared by the results: a one-line `repr`, and the readable text (`str`) where
    IPython prints a value, instead of a dump of every field."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.summary()}>"

    def summary(self) -> str:
        """One line naming what the result holds."""
        return str(self).splitlines()[0]

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


class Rows(Readable):
    """A list-like result: its rows and metadata are `to_frame()`, shown as heading and table."""

    def to_frame(self) -> pd.DataFrame:
        """The rows as a DataFrame (a copy) with the metadata in `attrs`."""
        raise NotImplementedError

    def summary(self) -> str:
        frame = self.to_frame()
        return f"{render.frame_heading(frame.attrs)}, {len(frame):,} rows"

    def __str__(self) -> str:
        return render.frame_text(self.to_frame())

    def _repr_html_(self) -> str:
        return render.frame_html(self.to_frame())


def _coverage(coverage: float | None) -> str:
    """Cost coverage as a fact: "97.3% of tokens priced"; a dash without tokens."""
    return "–" if coverage is None else f"{fmt.coverage_percent(coverage)} of tokens priced"


def _tokens(input_tokens: int, output_tokens: int, total_tokens: int) -> str:
    return " / ".join(fmt.count(n) for n in (input_tokens, output_tokens, total_tokens))


@dataclass(frozen=True, repr=False)
class Overview(Readable):
    """The dashboard's summary of the executions in a window."""

    window: Window
    scope: str
    total_executions: int
    executions_by_status: dict[str, int]
    """Executions per status (success, failure, timeout), zeros included; and `other` when
    another program wrote other statuses, so the counts add up to the total."""
    success_rate: float | None
    """Successful / all executions x 100."""
    avg_response_time_ms: float | None
    """Mean execution_time_ms."""
    p50_ms: float | None
    """P50/P95/P99: continuous percentiles (linear interpolation) of execution_time_ms."""
    p95_ms: float | None
    p99_ms: float | None
    total_cost_usd: Decimal
    monthly_projection_usd: Decimal
    """total_cost_usd / the window's length in days x 30."""
    input_tokens: int
    output_tokens: int
    total_tokens: int
    active_agents: int
    """Distinct agents: agent_id where set, else agent_name."""
    unpriced_models: tuple[str, ...]
    """Models in the window that pricing does not know: their executions cost $0 here."""
    source: str = "raw"
    """"rollup" when the hourly/daily rollups answered part of the window, else "raw"; counts,
    sums and costs are the same either way."""
    percentile_bound: float = 0.0
    """The percentiles' relative bound: 0 when exact, 0.01 when read from the latency sketches."""
    cost_coverage: float | None = None
    """Cost coverage: the share of tokens (percent) whose model has a known price; None when
    there are no tokens. Below 100, total_cost_usd leaves out what the unpriced ones cost."""
    stored_unpriced: tuple[str, ...] = ()
    """Models whose tokens are stored at $0 although pricing here prices them (recorded before
    their price was known): `reprice` prices them; total_cost_usd leaves them out until then."""
    cache_hit_share: float | None = None
    """Percent of the input tokens read from the provider's prompt cache; None unless asked for
    (`caching=True`) on a database that records cache tokens."""
    cache_saved_usd: Decimal | None = None
    """What the cache reads and writes saved against the input rate (negative when writes cost
    more); None unless asked for."""

    def to_frame(self) -> pd.DataFrame:
        """One row with every metric; statuses as `<status>_executions`, money as floats."""
        row: dict[str, object] = {f.name: getattr(self, f.name) for f in fields(self)}
        row["window"] = self.window.label
        row.update({f"{k}_executions": v for k, v in self.executions_by_status.items()})
        del row["executions_by_status"]
        row["unpriced_models"] = ", ".join(self.unpriced_models)
        row["stored_unpriced"] = ", ".join(self.stored_unpriced)
        row["total_cost_usd"] = rounded(self.total_cost_usd)
        row["monthly_projection_usd"] = rounded(self.monthly_projection_usd)
        row["cache_saved_usd"] = rounded(self.cache_saved_usd)
        frame = pd.DataFrame([row])
        return described(
            frame, "Overview", scope=self.scope, window=self.window, notes=self._notes()
        )

    def _facts(self) -> list[tuple[str, str]]:
        by_status = ", ".join(f"{k} {fmt.count(v)}" for k, v in self.executions_by_status.items())
        percentiles = (self.p50_ms, self.p95_ms, self.p99_ms)
        return [
            ("Total executions", fmt.count(self.total_executions)),
            ("By status", by_status),
            ("Success rate", fmt.percent(self.success_rate) or "–"),
            ("Avg response time", fmt.duration_ms(self.avg_response_time_ms) or "–"),
            ("P50 / P95 / P99", " / ".join(fmt.duration_ms(p) or "–" for p in percentiles)),
            ("Total cost", fmt.money(self.total_cost_usd)),
            ("Cost coverage", _coverage(self.cost_coverage)),
            ("Monthly projection", fmt.money(self.monthly_projection_usd)),
            (
                "Tokens in / out / total",
                _tokens(self.input_tokens, self.output_tokens, self.total_tokens),
            ),
            ("Active agents", fmt.count(self.active_agents)),
            *self._cache_facts(),
        ]

    def _cache_facts(self) -> list[tuple[str, str]]:
        """The prompt cache's line, when it was asked for."""
        if self.cache_saved_usd is None:
            return []
        share = "–" if self.cache_hit_share is None else f"{self.cache_hit_share:.1f}%"
        return [
            (
                "Prompt cache",
                f"{share} of input read from cache, saving {fmt.money(self.cache_saved_usd)}",
            )
        ]

    def summary(self) -> str:
        executions, cost = fmt.count(self.total_executions), fmt.money(self.total_cost_usd)
        return f"{self.window.label}, {self.scope}: {executions} executions, {cost}"

    def _notes(self) -> list[str]:
        notes = []
        if note := unpriced_note(self.unpriced_models):
            notes.append(note)
        if note := reprice_note(self.stored_unpriced):
            notes.append(note)
        if self.percentile_bound:
            notes.append(
                f"Percentiles from the rollups' latency sketches, within "
                f"{self.percentile_bound:.0%} of exact (exact=True / --exact reads the raw rows)"
            )
        return notes

    def __str__(self) -> str:
        return render.text(
            render.title("Overview", self.window, self.scope), self._facts(), self._notes()
        )

    def _repr_html_(self) -> str:
        heading = render.title("Overview", self.window, self.scope)
        return render.html_block(heading, self._facts(), self._notes())


@dataclass(frozen=True, eq=False, repr=False)
class ExecutionPage(Rows):
    """One page of the executions list, with the totals needed to page through it."""

    window: Window
    scope: str
    rows: pd.DataFrame
    """The page's executions, one per row, in the requested order."""
    total: int
    """Executions matching the filters, on all pages."""
    page: int
    page_size: int
    pages: int
    """Number of pages (0 when nothing matches)."""
    sort_by: str
    sort_order: str
    offset: int = 0
    """Rows of the list before this page's first row."""

    def to_frame(self) -> pd.DataFrame:
        """The page's rows; attrs: title, window, scope, total, page, page_size, pages, sort."""
        return described(
            self.rows.copy(),
            "Executions",
            scope=self.scope,
            window=self.window,
            total=self.total,
            page=self.page,
            page_size=self.page_size,
            pages=self.pages,
            sort_by=self.sort_by,
            sort_order=self.sort_order,
        )


@dataclass(frozen=True, eq=False, repr=False)
class ExecutionDetail(Readable):
    """One execution with its ReAct trace steps and its token usage by component."""

    scope: str
    execution: dict[str, object]
    """The execution's columns by name (ids as UUID, times aware UTC, cost_usd as Decimal, None
    where the cost is unknown)."""
    traces: pd.DataFrame | None
    """Trace steps ordered by step_number; None when the database has no executiontraces table."""
    token_usage: pd.DataFrame | None
    """Token usage rows by component and step; None when the database has no tokenusages table."""

    @property
    def id(self) -> uuid.UUID:
        """The execution's id."""
        value = self.execution["id"]
        assert isinstance(value, uuid.UUID)
        return value

    def to_frame(self) -> pd.DataFrame:
        """The trace steps (empty when the database records none)."""
        steps = pd.DataFrame() if self.traces is None else self.traces.copy()
        return described(steps, f"Trace steps of execution {self.id}", scope=self.scope)

    def _facts(self) -> list[tuple[str, str]]:
        shown = pd.DataFrame([self.execution]).drop(columns="id")
        readable = fmt.readable_frame(shown, cut=False).iloc[0]
        return [(name, "–" if pd.isna(value) else str(value)) for name, value in readable.items()]

    def summary(self) -> str:
        steps = "no trace table" if self.traces is None else f"{len(self.traces)} trace steps"
        return f"execution {self.id} ({self.scope}), {steps}"

    def __str__(self) -> str:
        heading = render.title(f"Execution {self.id}", None, self.scope)
        parts = [render.text(heading, self._facts())]
        for name, frame, missing in (
            ("Trace steps", self.traces, "the database has no executiontraces table"),
            ("Token usage", self.token_usage, "the database has no tokenusages table"),
        ):
            if frame is None:
                parts.append(f"\n{name}: {missing}")
            else:
                parts.append(f"\n{name} ({len(frame)})")
                parts.append(render.frame_text(frame) if len(frame) else "  none recorded")
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        heading = render.title(f"Execution {self.id}", None, self.scope)
        tables = [
            "<h5>Trace steps</h5>",
            render.html_table(self.traces, "no trace steps recorded"),
            "<h5>Token usage</h5>",
            render.html_table(self.token_usage, "no token usage recorded"),
        ]
        return render.html_block(heading, self._facts(), tables=tables)


@dataclass(frozen=True, eq=False, repr=False)
class AgentStats(Readable):
    """Statistics of one agent in a window, with a daily series."""

    window: Window
    scope: str
    agent: str
    """The agent as asked for: an id or a name."""
    agent_id: uuid.UUID | None
    """The agent's id when it was asked for by id."""
    agent_name: str | None
    """The agent's recorded name (its newest, if it was renamed)."""
    total_executions: int
    success_rate: float | None
    avg_response_time_ms: float | None
    p95_ms: float | None
    input_tokens: int
    output_tokens: int
    total_tokens: int
    total_cost_usd: Decimal
    models_used: tuple[str, ...]
    daily: pd.DataFrame
    """One row per UTC day of the window, with the columns of `timeseries`."""
    source: str = "raw"
    """"rollup" when the hourly/daily rollups answered part of the window, else "raw"; counts,
    sums and costs are the same either way."""
    percentile_bound: float = 0.0
    """P95's relative bound: 0 when exact, 0.01 when read from the latency sketches."""
    agents_named: int = 1
    """How many agents (distinct agent ids, runs without one counting as one more) the name
    asked for covers in the window: top agents lists each apart, these figures add them up."""

    def to_frame(self) -> pd.DataFrame:
        """The daily series, with the agent, window and scope in attrs."""
        title = f"Agent {self.agent_name or self.agent} per day"
        return described(self.daily.copy(), title, scope=self.scope, window=self.window)

    def _facts(self) -> list[tuple[str, str]]:
        times = (self.avg_response_time_ms, self.p95_ms)
        return [
            ("Executions", fmt.count(self.total_executions)),
            ("Success rate", fmt.percent(self.success_rate) or "–"),
            ("Avg / P95 response time", " / ".join(fmt.duration_ms(t) or "–" for t in times)),
            (
                "Tokens in / out / total",
                _tokens(self.input_tokens, self.output_tokens, self.total_tokens),
            ),
            ("Total cost", fmt.money(self.total_cost_usd)),
            ("Models", ", ".join(self.models_used) or "–"),
        ]

    def _heading(self) -> str:
        return render.title(f"Agent {self.agent_name or self.agent}", self.window, self.scope)

    def _notes(self) -> list[str]:
        notes = []
        if self.agents_named > 1:
            notes.append(
                f"{self.agent!r} names {self.agents_named} agents here (runs with different "
                "agent ids, or none): these figures add them up, where top agents lists each "
                "apart; ask by agent id for one"
            )
        if self.percentile_bound:
            notes.append(
                f"P95 from the rollups' latency sketches, within {self.percentile_bound:.0%} of "
                "exact (exact=True / --exact reads the raw rows)"
            )
        return notes

    def __str__(self) -> str:
        return render.text(self._heading(), self._facts(), self._notes())

    def _repr_html_(self) -> str:
        tables = [render.html_table(self.daily)]
        return render.html_block(self._heading(), self._facts(), self._notes(), tables=tables)


@dataclass(frozen=True, eq=False, repr=False)
class Table(Rows):
    """A tabular result: top agents, cost summary, model comparison, a time series, the budgets
    and their history (`window` None where the rows have no single window)."""

    title: str
    window: Window | None
    scope: str
    frame: pd.DataFrame
    """The rows; each function documents its columns."""
    notes: tuple[str, ...] = field(default=())
    """Warnings that belong with the table (e.g. unpriced models)."""
    source: str = "raw"
    """"rollup" when the hourly/daily rollups answered part of the window, else "raw"."""

    def to_frame(self) -> pd.DataFrame:
        """The rows; attrs: title, window, scope and notes."""
        return described(
            self.frame.copy(), self.title, scope=self.scope, window=self.window, notes=self.notes
        )


@dataclass(frozen=True, eq=False, repr=False)
class CostForecast(Readable):
    """Projected cost of the current calendar month (UTC), with a low/high band."""

    window: Window
    """The lookback whose daily costs give the rate and the band."""
    scope: str
    month_start: datetime
    month_end: datetime
    """Start of the next month (exclusive end of this one)."""
    actual_to_date_usd: Decimal
    """Cost from month_start to now."""
    daily_rate_usd: Decimal
    """Mean cost per day over the lookback."""
    remaining_days: Decimal
    """Days from now to month_end."""
    projected_usd: Decimal
    """actual_to_date_usd + daily_rate_usd x remaining_days."""
    low_usd: Decimal
    """actual_to_date_usd + the lowest of the lookback's complete days' costs and the daily
    rate, x remaining_days."""
    high_usd: Decimal
    """actual_to_date_usd + the highest of them x remaining_days."""
    method: str
    """How the projection was made, in words."""
    daily: pd.DataFrame
    """The lookback's cost per UTC day: columns day, cost_usd."""
    note: str | None = None
    """What to know before trusting the projection (lookback days before the first run)."""

    def to_frame(self) -> pd.DataFrame:
        """One row: month, actual to date, rate, projection and band (money as floats)."""
        skip = ("window", "daily")
        row = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}
        frame = pd.DataFrame(
            [{k: rounded(v) if isinstance(v, Decimal) else v for k, v in row.items()}]
        )
        return described(frame, self._name(), scope=self.scope, window=self.window)

    def _facts(self) -> list[tuple[str, str]]:
        return [
            ("Actual to date", fmt.money(self.actual_to_date_usd)),
            ("Projected month", fmt.money(self.projected_usd)),
            ("Low – high", f"{fmt.money(self.low_usd)} – {fmt.money(self.high_usd)}"),
            ("Daily rate", fmt.money(self.daily_rate_usd)),
            ("Method", self.method),
            *([("Note", self.note)] if self.note else []),
        ]

    def _name(self) -> str:
        return f"Cost forecast for {self.month_start:%B %Y}"

    def _heading(self) -> str:
        return render.title(self._name(), self.window, self.scope)

    def __str__(self) -> str:
        return render.text(self._heading(), self._facts())

    def _repr_html_(self) -> str:
        return render.html_block(self._heading(), self._facts())


@dataclass(frozen=True, repr=False)
class ExportResult(Readable):
    """Where an export was written and how many executions it holds."""

    path: Path
    rows: int
    """Executions written (trace steps and token usage rows are nested in them)."""
    format: str
    window: Window
    scope: str

    def __str__(self) -> str:
        where = f"({self.window.label}, {self.scope})"
        return f"wrote {self.rows:,} executions {where} as {self.format} to {self.path}"

    def _repr_html_(self) -> str:
        return render.html_block(
            render.title("Export", self.window, self.scope), [("File", str(self))]
        )


@dataclass(frozen=True)
class Breakdown:
    """The overview, top agents and cost by model of one window, computed in one pass."""

    overview: Overview
    top_agents: Table
    cost_by_model: Table
