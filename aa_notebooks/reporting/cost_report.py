"""The sections of `reports/cost_report.ipynb`, each a display object made from analytics results.

The notebook calls one method per cell; the numbers all come from `Analytics` (the window's
overview against the previous window, cost by model and agent over time, the most expensive
executions, the month's forecast), so the report shows what the dashboard and the magic show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from html import escape

import altair as alt
import pandas as pd
from IPython.display import HTML, Image

from aa_notebooks.analytics import Analytics, Window
from aa_notebooks.analytics.choices import ANOMALY_BY, Bucket, CostBy
from aa_notebooks.analytics.forecast import month_bounds
from aa_notebooks.figures import changes, charts
from aa_notebooks.formatting import (
    count,
    coverage_percent,
    duration_ms,
    metric_value,
    money,
    percent,
    robust_z,
)
from aa_notebooks.reporting import blocks
from aa_notebooks.reporting.parameters import ReportParameters
from aa_notebooks.reporting.summary import Summary

EXPENSIVE_COLUMNS = {
    "started_at": "Started",
    "agent_name": "Agent",
    "model_name": "Model",
    "status": "Status",
    "query_preview": "Query",
    "execution_time_ms": "Duration",
    "total_tokens": "Tokens",
    "cost_usd": "Cost",
}
CACHE_COLUMNS = {
    "model": "Model",
    "input_tokens": "Input tokens",
    "cache_read_tokens": "Read from cache",
    "cache_write_tokens": "Written to cache",
    "cache_hit_share": "Cache hit share",
    "saved_usd": "Saved by caching",
}
ANOMALY_METRICS = {"cost_usd": "Cost", "p95_ms": "P95 latency", "failure_rate": "Failure rate"}
ANOMALY_HEADINGS = {
    "day": "Day (UTC)",
    "by": "By",
    "group": "Agent or model",
    "metric": "Metric",
    "value": "Value",
    "usual": "Usual",
    "z": "Robust z",
}
MAX_ANOMALY_ROWS = 25
NO_ANOMALIES = (
    "No anomalies: no agent's or model's daily cost, P95 latency or failure rate broke from its "
    "recent past."
)
BAR_COLORS = {"model": "#8b5cf6", "agent": "#0ea5e9"}
BREAKDOWN_COLUMNS = {
    "executions": "Executions",
    "total_tokens": "Tokens",
    "cost_usd": "Cost",
    "cost_share": "Share",
}


@dataclass(frozen=True)
class CostReport:
    """The cost report of one window and scope."""

    analytics: Analytics
    parameters: ReportParameters
    window: Window

    @classmethod
    def open(cls, **parameters: object) -> CostReport:
        """Connect (database from AA_DATABASE_URL) and resolve the window of the parameters."""
        checked = ReportParameters.from_notebook(parameters)
        analytics = checked.connect()
        return cls(analytics, checked, checked.window(analytics))

    @property
    def bucket(self) -> Bucket:
        """Hours for windows up to two days, else days."""
        return "hour" if self.window.duration <= timedelta(days=2) else "day"

    def header(self) -> HTML:
        """Title, scope, period and generation time."""
        return self.parameters.header(self.analytics, self.window)

    def headline(self) -> Summary:
        """The KPIs against the previous window of the same length, and unpriced models."""
        now = self.analytics.overview(self.window)
        before = self.analytics.overview(self.window.previous(), unpriced=False)
        label = self.window.label
        rows = [
            ("Total cost", money(now.total_cost_usd), money(before.total_cost_usd),
             changes.relative(now.total_cost_usd, before.total_cost_usd, self.window)),
            ("Cost coverage (tokens priced)", _coverage(now.cost_coverage),
             _coverage(before.cost_coverage), ""),
            ("Executions", count(now.total_executions), count(before.total_executions),
             changes.absolute(now.total_executions, before.total_executions, self.window)),
            ("Success rate", percent(now.success_rate), percent(before.success_rate),
             changes.points(now.success_rate, before.success_rate, self.window)),
            ("Avg response time", duration_ms(now.avg_response_time_ms),
             duration_ms(before.avg_response_time_ms),
             changes.relative(now.avg_response_time_ms, before.avg_response_time_ms, self.window)),
            ("P95 response time", duration_ms(now.p95_ms), duration_ms(before.p95_ms),
             changes.relative(now.p95_ms, before.p95_ms, self.window)),
            ("Total tokens", count(now.total_tokens), count(before.total_tokens),
             changes.relative(now.total_tokens, before.total_tokens, self.window)),
            ("Active agents", count(now.active_agents), count(before.active_agents),
             changes.absolute(now.active_agents, before.active_agents, self.window)),
            ("Monthly projection", money(now.monthly_projection_usd), "", ""),
        ]  # fmt: skip
        table = blocks.kpi_rows(rows, ("Metric", label, "Previous", "Change"))
        html = table.data
        lines = [f"{row[0]}: {row[1]} ({row[3]})" if row[3] else f"{row[0]}: {row[1]}"
                 for row in rows]  # fmt: skip
        if now.unpriced_models:
            warning = _unpriced_warning(now.unpriced_models)
            html += blocks.note(warning, kind="warning").data
            lines.append(f"Warning: {warning}")
        return Summary(text="\n".join(lines), html=html)

    def cost_over_time(self) -> Image | HTML:
        """Cost per bucket, stacked by model: per week past WEEKLY_AFTER, per month past
        MONTHLY_AFTER (a year of days for fifteen models is too many bars to read)."""
        series = self.analytics.cost_timeseries(self.window, bucket=self.bucket, by="model").frame
        if series.empty or not series["cost_usd"].any():
            return blocks.note("No cost in this period.")
        unit = _drawn_unit(self.window, self.bucket)
        if unit != self.bucket:
            series = _summed_per(series, unit)
        return blocks.chart(
            charts.cost_over_time(series, unit).chart(), f"Cost per {unit}, stacked by model"
        )

    def cost_by_model(self) -> list[Image | HTML]:
        """Cost per model: a bar chart and the table behind it."""
        return self._breakdown("model")

    def cost_by_agent(self) -> list[Image | HTML]:
        """Cost per agent: a bar chart and the table behind it."""
        return self._breakdown("agent")

    def _breakdown(self, by: CostBy) -> list[Image | HTML]:
        """Cost per model or agent, most expensive first, as a bar chart and a table."""
        frame = self.analytics.cost_summary(self.window, by=by).frame
        if frame.empty:
            return [blocks.note("No executions in this period.")]
        columns = {by: by.capitalize(), **BREAKDOWN_COLUMNS}
        named = frame.fillna({by: "(none)"})  # runs that name no model or agent
        return [
            blocks.chart(_cost_by_chart(named, by), f"Cost by {by}, bar chart"),
            blocks.table(named, self.parameters.timezone, empty="", columns=columns),
        ]

    def anomalies(self) -> HTML:
        """The window's anomalous days per agent and per model, most extreme first (or a note
        saying there were none)."""
        found = self.analytics.anomalies(self.window, by=ANOMALY_BY).frame
        if found.empty:
            return blocks.note(NO_ANOMALIES)
        shown = pd.DataFrame({
            "day": found["day"].dt.strftime("%Y-%m-%d"),
            "by": found["by"],
            "group": found["group"].fillna("(none)"),
            "metric": found["metric"].map(ANOMALY_METRICS),
            "value": _metric_texts(found["metric"], found["value"]),
            "usual": _metric_texts(found["metric"], found["baseline_median"]),
            "z": found["z"].map(robust_z),
        })  # fmt: skip
        more = len(shown) - MAX_ANOMALY_ROWS
        table = blocks.table(
            shown.head(MAX_ANOMALY_ROWS),
            self.parameters.timezone,
            empty="",
            columns=ANOMALY_HEADINGS,
        )
        if more <= 0:
            return table
        return HTML(table.data + blocks.note(f"{more:,} more not shown.").data)

    def caching(self) -> HTML:
        """Per model: the share of input read from the prompt cache and what it saved."""
        table = self.analytics.cache_savings(self.window)
        cached = table.frame[
            table.frame["cache_read_tokens"] + table.frame["cache_write_tokens"] > 0
        ]
        empty = table.notes[0] if table.notes else "No call in this period used a prompt cache."
        return blocks.table(cached, self.parameters.timezone, empty=empty, columns=CACHE_COLUMNS)

    def most_expensive(self) -> HTML:
        """The top-N executions by cost."""
        page = self.analytics.executions(
            page_size=self.parameters.top_n, period=self.window, sort_by="cost_usd"
        )
        return blocks.table(
            page.rows, self.parameters.timezone,
            empty="No executions in this period.", columns=EXPENSIVE_COLUMNS,
        )  # fmt: skip

    def forecast(self) -> HTML:
        """This calendar month's projected cost with its band and method; for a window that
        ended before this month began, a line saying why there is none."""
        month_start, _ = month_bounds(self.analytics.now())
        if self.window.end <= month_start:
            return HTML(
                f'<p class="aa-note">No forecast: it is of the current month '
                f"({month_start:%B %Y}), and this report's window ended before it began.</p>"
            )
        result = self.analytics.cost_forecast()
        month = f"{result.month_start:%B %Y}"
        rows = [
            ("Actual to date", money(result.actual_to_date_usd)),
            ("Daily rate", money(result.daily_rate_usd)),
            ("Projected month", money(result.projected_usd)),
            ("Low – high", f"{money(result.low_usd)} – {money(result.high_usd)}"),
        ]
        note = f'<p class="aa-note">Note: {escape(result.note)}</p>' if result.note else ""
        return HTML(
            blocks.kpi_rows(rows, (f"Forecast for {month}", "")).data
            + f'<p class="aa-note">Method: {escape(result.method)}</p>'
            + note
        )


def _unpriced_warning(models: tuple[str, ...]) -> str:
    names = ", ".join(models)
    return (
        f"Unpriced models: {names}. Their executions count as $0, so the totals are low; add "
        "their prices in a pricing file (AA_PRICING_FILE)."
    )


def _metric_texts(metrics: pd.Series, values: pd.Series) -> list[str]:
    return [metric_value(m, v) for m, v in zip(metrics, values, strict=True)]


def _cost_by_chart(frame: pd.DataFrame, by: str) -> alt.Chart:
    """Cost per model or agent, most expensive first."""
    chart: alt.Chart = (
        alt.Chart(frame[[by, "cost_usd"]])
        .mark_bar(color=BAR_COLORS[by])
        .encode(
            x=alt.X("cost_usd:Q", title="Cost (USD)"),
            y=alt.Y(f"{by}:N", sort="-x", title=None),
        )
        .properties(width=charts.NARROW, height=220, title=f"Cost by {by}")
    )
    return chart


def _coverage(coverage: float | None) -> str:
    """Cost coverage as a cell; empty without tokens."""
    return "" if coverage is None else coverage_percent(coverage)


WEEKLY_AFTER = timedelta(days=92)
MONTHLY_AFTER = timedelta(days=732)


def _drawn_unit(window: Window, bucket: Bucket) -> str:
    """The bars of the cost-over-time chart: the window's bucket, or weeks, or months."""
    if window.duration > MONTHLY_AFTER:
        return "month"
    return "week" if window.duration > WEEKLY_AFTER else bucket


def _summed_per(series: pd.DataFrame, unit: str) -> pd.DataFrame:
    """Day rows of cost by model summed per week (from Monday) or calendar month, UTC."""
    days = series["bucket"].dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()
    if unit == "week":
        starts = days - pd.to_timedelta(days.dt.day_of_week, unit="D")
    else:
        starts = days.dt.to_period("M").dt.to_timestamp()
    return (
        series.assign(bucket=starts.dt.tz_localize("UTC"), model=series["model"].fillna("(none)"))
        .groupby(["bucket", "model"], as_index=False)["cost_usd"]
        .sum()
    )
