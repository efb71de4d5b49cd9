"""A slot for one chart: the chart widget when there is data, a sentence when there is none."""

from __future__ import annotations

from collections.abc import Hashable

import altair as alt
import ipywidgets as widgets

from aa_notebooks.ui.charts import Plot, jupyter_chart
from aa_notebooks.ui.markup import notice


class ChartPanel:
    """Keeps one JupyterChart per panel; a refresh that keeps the chart's shape sends only rows.

    Building and validating an Altair chart costs tens of milliseconds per chart; a refresh
    reuses the spec built the first time and swaps in the new rows of its single dataset.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.chart: alt.JupyterChart | None = None
        self.empty_text: str | None = None
        """The sentence shown instead of the chart, or None while a chart is shown."""
        self._shape: Hashable = None
        self._empty = widgets.HTML()
        self.widget = widgets.VBox([], layout=widgets.Layout(margin="4px 8px 4px 0"))
        self.widget.add_class(f"aa-chart-{name}")

    def show(self, plot: Plot) -> None:
        """Draw `plot`: new rows only when the chart keeps its shape, else a new chart."""
        if self.chart is None:
            self.chart = jupyter_chart(plot.chart())
        elif plot.shape == self._shape:
            name = self.chart.spec["data"]["name"]
            self.chart.spec = {**self.chart.spec, "datasets": {name: plot.rows()}}
        else:
            self.chart.chart = plot.chart()
        self._shape = plot.shape
        self.empty_text = None
        self.widget.children = (self.chart,)

    def show_empty(self, text: str) -> None:
        """Say in words why there is no chart."""
        self.empty_text = text
        self._empty.value = notice(text)
        self.widget.children = (self._empty,)
