"""A slot for one chart: the chart widget when there is data, a sentence when there is none."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from typing import Any

import altair as alt
import ipywidgets as widgets

from aa_notebooks.figures.charts import BRUSH, Plot
from aa_notebooks.ui.markup import notice

_offline = threading.Lock()
KEPT_SHAPES = 4
"""Chart widgets a panel keeps, one per shape, for when a shape comes back."""


def jupyter_chart(chart: alt.ChartType) -> alt.JupyterChart:
    """A chart widget that renders without network access (Vega from vl-convert): Altair's
    default renderer loads Vega from a CDN, and the mimetype renderer shows nothing in
    JupyterLab 4."""
    with _offline:
        alt.JupyterChart.enable_offline()
    return alt.JupyterChart(chart)


class ChartPanel:
    """Keeps one JupyterChart per chart shape; a refresh of a shape seen before sends only rows.

    Building and validating an Altair chart costs tens of milliseconds per chart; a refresh
    reuses the widget built the first time for its shape (hourly or daily buckets, say) and swaps
    in the new rows of its single dataset. Periods that alternate between hourly and daily
    buckets therefore build each chart once, not at every change.
    """

    def __init__(
        self, name: str, on_brush: Callable[[tuple[datetime, datetime] | None], None] | None = None
    ) -> None:
        self.name = name
        self._on_brush = on_brush
        self.brushed: tuple[datetime, datetime] | None = None
        """The time range brushed on the chart (its `BRUSH` selection), or None."""
        self.chart: alt.JupyterChart | None = None
        """The chart shown (or last shown, while a sentence stands in for it)."""
        self.empty_text: str | None = None
        """The sentence shown instead of the chart, or None while a chart is shown."""
        self._charts: OrderedDict[Hashable, alt.JupyterChart] = OrderedDict()
        """The chart widget of each shape drawn, the most recent KEPT_SHAPES."""
        self._empty = widgets.HTML()
        self.widget = widgets.VBox([], layout=widgets.Layout(margin="4px 8px 4px 0"))
        self.widget.add_class(f"aa-chart-{name}")

    def show(self, plot: Plot) -> None:
        """Draw `plot`: new rows into its shape's chart when there is one, else a new chart."""
        chart = self._charts.get(plot.shape)
        if chart is None:
            chart = jupyter_chart(plot.chart())
            # The raw selections the front end syncs: a stable trait, whereas `selections` is
            # replaced whenever the chart is.
            chart.observe(self._selected, names=["_vl_selections"])
            self._charts[plot.shape] = chart
            while len(self._charts) > KEPT_SHAPES:
                self._charts.popitem(last=False)[1].close()  # never the one shown: it is newest
        else:
            name = chart.spec["data"]["name"]
            chart.spec = {**chart.spec, "datasets": {name: plot.rows()}}
            self._charts.move_to_end(plot.shape)
        if chart is not self.chart:
            self.brushed = None  # another chart: a brush on the one before no longer counts
        self.chart = chart
        self.empty_text = None
        self.widget.children = (chart,)

    def _selected(self, change: dict[str, Any]) -> None:
        if change["owner"] is not self.chart:
            return  # a chart kept for its shape, not on the page
        brushed = brush_range((change["new"] or {}).get(BRUSH))
        if brushed != self.brushed:
            self.brushed = brushed
            if self._on_brush is not None:
                self._on_brush(brushed)

    def show_empty(self, text: str) -> None:
        """Say in words why there is no chart."""
        self.empty_text = text
        self._empty.value = notice(text)
        self.widget.children = (self._empty,)


def _moment(value: Any) -> datetime:
    """A Vega time: epoch milliseconds, or ISO text as a Date turns into in JSON."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, UTC)
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def brush_range(selection: dict[str, Any] | None) -> tuple[datetime, datetime] | None:
    """The (start, end) of an interval selection on a time axis, or None when it is empty."""
    value = (selection or {}).get("value") or {}
    for pair in value.values():
        if isinstance(pair, list) and len(pair) == 2:
            try:
                start, end = sorted((_moment(pair[0]), _moment(pair[1])))
            except (TypeError, ValueError, OverflowError, OSError):
                return None
            return (start, end) if start < end else None
    return None
