"""The Altair charts of the dashboard, the trace explorer and the cost report, drawn from
analytics results, with no widget: the dashboard shows them as `JupyterChart` widgets
(`ui.chart_panel`), the reports as PNG images.

Charts only encode the frames they are given (bars, lines, stacking); every number in them comes
from the analytics layer. Each is a `Plot`: its rows, plus how to build the chart around them,
so a panel whose chart keeps its shape only sends new rows on a refresh.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, cast

import altair as alt
import pandas as pd

from aa_notebooks.figures.palette import OTHER_COLOR

WIDE, NARROW = 760, 300


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


def _time_axis(bucket: str, **options: Any) -> alt.X:
    units = {"hour": "yearmonthdatehours", "month": "yearmonth"}
    unit = units.get(bucket, "yearmonthdate")  # days and weeks (a week by its Monday)
    axis = alt.Axis(labelAngle=-30)
    return alt.X(f"{unit}(bucket):T", title=bucket.capitalize(), axis=axis, **options)


BRUSH = "brush"
"""The activity chart's interval selection: dragging across it picks a time range."""


def activity(series: pd.DataFrame, bucket: str) -> Plot:
    """Executions (bars) and success rate (line, right axis) per hour or day; dragging across
    the bars brushes a time range (the `BRUSH` selection)."""

    def build(data: pd.DataFrame) -> alt.ChartType:
        base = alt.Chart(data).encode(x=_time_axis(bucket))
        brush = alt.selection_interval(name=BRUSH, encodings=["x"])
        bars = (
            base.mark_bar(color="#60a5fa")
            .add_params(brush)
            .encode(
                y=alt.Y("executions:Q", title="Executions"),
                tooltip=[alt.Tooltip("bucket:T", title=bucket), alt.Tooltip("executions:Q")],
            )
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
    """Cost per hour, day, week or month (`bucket`), stacked by model."""

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
