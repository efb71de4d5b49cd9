"""The Altair charts of the dashboard and the trace explorer, drawn from analytics results.

Charts only encode the frames they are given (bars, lines, stacking); every number in them comes
from the analytics layer. Each is a `Plot`: its rows, plus how to build the chart around them,
so a panel whose chart keeps its shape only sends new rows on a refresh. They are shown with
`alt.JupyterChart` in offline mode, because Altair's default renderer loads Vega from a CDN and
the mimetype renderer shows nothing in JupyterLab 4.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, cast

import altair as alt
import pandas as pd

from aa_notebooks.ui.markup import OTHER_COLOR, STEP_COLORS

WIDE, NARROW = 760, 300
_offline = threading.Lock()


@dataclass(frozen=True, eq=False)
class Plot:
    """A chart as rows plus a builder; charts with the same `shape` differ only in their rows."""

    shape: Hashable
    data: pd.DataFrame
    build: Callable[[pd.DataFrame], alt.ChartType]

    def chart(self) -> alt.ChartType:
        """The Altair chart of these rows."""
        return self.build(self.data)

    def rows(self) -> list[dict[str, Any]]:
        """The rows as Vega-Lite values (timestamps as ISO text, NaN as null)."""
        return cast(list[dict[str, Any]], alt.to_values(self.data)["values"])


def jupyter_chart(chart: alt.ChartType) -> alt.JupyterChart:
    """A chart widget that renders without network access (Vega from vl-convert)."""
    with _offline:
        alt.JupyterChart.enable_offline()
    return alt.JupyterChart(chart)


def _time_axis(bucket: str, **options: Any) -> alt.X:
    unit = "yearmonthdatehours" if bucket == "hour" else "yearmonthdate"
    axis = alt.Axis(labelAngle=-30)
    return alt.X(f"{unit}(bucket):T", title=bucket.capitalize(), axis=axis, **options)


def activity(series: pd.DataFrame, bucket: str) -> Plot:
    """Executions (bars) and success rate (line, right axis) per hour or day."""

    def build(data: pd.DataFrame) -> alt.ChartType:
        base = alt.Chart(data).encode(x=_time_axis(bucket))
        bars = base.mark_bar(color="#60a5fa").encode(
            y=alt.Y("executions:Q", title="Executions"),
            tooltip=[alt.Tooltip("bucket:T", title=bucket), alt.Tooltip("executions:Q")],
        )
        line = base.mark_line(color="#16a34a", point=True).encode(
            x=_time_axis(bucket, bandPosition=0.5),  # points at the middle of their bars
            y=alt.Y("success_rate:Q", title="Success rate (%)", scale=alt.Scale(domain=[0, 100])),
            tooltip=[
                alt.Tooltip("bucket:T", title=bucket),
                alt.Tooltip("success_rate:Q", format=".1f"),
            ],
        )
        chart: alt.ChartType = (
            alt.layer(bars, line)
            .resolve_scale(y="independent")
            .properties(width=WIDE, height=220, title="Executions and success rate over time")
        )
        return chart

    return Plot(("activity", bucket), series[["bucket", "executions", "success_rate"]], build)


def cost_by_model(costs: pd.DataFrame) -> Plot:
    """Cost per model, most expensive first."""

    def build(data: pd.DataFrame) -> alt.ChartType:
        chart: alt.ChartType = (
            alt.Chart(data)
            .mark_bar(color="#8b5cf6")
            .encode(
                x=alt.X("cost_usd:Q", title="Cost (USD)"),
                y=alt.Y("model:N", sort="-x", title=None),
                tooltip=[
                    alt.Tooltip("model:N"),
                    alt.Tooltip("cost_usd:Q", format="$,.4f"),
                    alt.Tooltip("cost_share:Q", format=".1f", title="share (%)"),
                    alt.Tooltip("executions:Q"),
                ],
            )
            .properties(width=NARROW, height=220, title="Cost by model")
        )
        return chart

    data = costs[["model", "cost_usd", "cost_share", "executions"]].fillna({"model": "(none)"})
    return Plot("cost-by-model", data, build)


def cost_over_time(costs: pd.DataFrame, bucket: str) -> Plot:
    """Cost per hour or day, stacked by model."""

    def build(data: pd.DataFrame) -> alt.ChartType:
        legend = alt.Legend(orient="bottom", columns=2)
        chart: alt.ChartType = (
            alt.Chart(data)
            .mark_bar()
            .encode(
                x=_time_axis(bucket),
                y=alt.Y("sum(cost_usd):Q", title="Cost (USD)"),
                color=alt.Color("model:N", title="Model", legend=legend),
                tooltip=[
                    alt.Tooltip("model:N"),
                    alt.Tooltip("bucket:T", title=bucket),
                    alt.Tooltip("cost_usd:Q", format="$,.4f"),
                ],
            )
            .properties(width=NARROW, height=220, title="Cost over time by model")
        )
        return chart

    data = costs[["bucket", "model", "cost_usd"]].fillna({"model": "(none)"})
    return Plot(("cost-over-time", bucket), data, build)


def timeline(steps: pd.DataFrame) -> Plot:
    """The trace steps as back-to-back bars of their durations, in step order."""
    scale = alt.Scale(domain=list(STEP_COLORS), range=list(STEP_COLORS.values()))

    def build(data: pd.DataFrame) -> alt.ChartType:
        chart: alt.ChartType = (
            alt.Chart(data)
            .transform_window(end_ms="sum(duration_ms)", sort=[{"field": "step_number"}])
            .transform_calculate(start_ms="datum.end_ms - datum.duration_ms")
            .mark_bar()
            .encode(
                x=alt.X("start_ms:Q", title="Time from first step (ms)"),
                x2="end_ms:Q",
                y=alt.Y("step_number:O", title="Step"),
                color=alt.Color("step_type:N", scale=scale, title="Step type"),
                tooltip=[
                    alt.Tooltip("step_number:O"),
                    alt.Tooltip("step_type:N"),
                    alt.Tooltip("duration_ms:Q"),
                ],
            )
            .properties(width=WIDE - 160, height=max(60, 28 * len(data)), title="Timeline")
        )
        return chart

    data = steps[["step_number", "step_type", "duration_ms"]].fillna({"duration_ms": 0})
    return Plot(("timeline", len(data)), data, build)


def token_usage(usage: pd.DataFrame) -> Plot:
    """Input and output tokens per component, stacked."""
    data = usage[["component", "input_tokens", "output_tokens"]].fillna({"component": "(none)"})
    components = data["component"].nunique()

    def build(rows: pd.DataFrame) -> alt.ChartType:
        kinds = alt.Scale(range=["#60a5fa", OTHER_COLOR])
        chart: alt.ChartType = (
            alt.Chart(rows)
            .transform_fold(["input_tokens", "output_tokens"], as_=["kind", "tokens"])
            .mark_bar()
            .encode(
                x=alt.X("sum(tokens):Q", title="Tokens"),
                y=alt.Y("component:N", title=None),
                color=alt.Color(
                    "kind:N", scale=kinds, title=None, legend=alt.Legend(orient="bottom")
                ),
                tooltip=[
                    alt.Tooltip("component:N"),
                    alt.Tooltip("kind:N"),
                    alt.Tooltip("sum(tokens):Q"),
                ],
            )
            .properties(width=NARROW, height=max(60, 30 * components))
        )
        return chart

    return Plot(("token-usage", components), data, build)
