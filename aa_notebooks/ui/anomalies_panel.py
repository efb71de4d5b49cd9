"""The dashboard's "Anomalies" panel: the period's days on which an agent's or a model's cost,
P95 latency or failure rate broke from its recent past (`Analytics.anomalies`), most extreme
first."""

from __future__ import annotations

import ipywidgets as widgets
import pandas as pd

from aa_notebooks import formatting as fmt
from aa_notebooks.analytics import Analytics, Window
from aa_notebooks.analytics.choices import ANOMALY_BY
from aa_notebooks.errors import AnalyticsError
from aa_notebooks.ui.markup import badge, esc, notice, table

HEADERS = ("Day", "Agent or model", "Metric", "Value", "Usual", "Robust z")
METRIC_NAMES = {"cost_usd": "Cost", "p95_ms": "P95 latency", "failure_rate": "Failure rate"}
DIRECTION_COLORS = {"up": "#dc2626", "down": "#2563eb"}
MAX_ROWS = 10
NONE_FOUND = "No anomalies in this period."


def period_anomalies(analytics: Analytics, window: Window) -> pd.DataFrame | str:
    """The window's anomalies by agent and by model, most extreme first; a database error as
    the sentence the panel shows."""
    try:
        return analytics.anomalies(window, by=ANOMALY_BY).frame
    except AnalyticsError as exc:
        return f"Anomalies are not available: {exc}"


class AnomaliesPanel:
    """An HTML widget listing the period's most extreme anomalies."""

    def __init__(self) -> None:
        self.widget = widgets.HTML()
        self.widget.add_class("aa-anomalies")
        self.rows: list[dict[str, str]] = []
        """The anomalies as displayed, one dict per row keyed by HEADERS (plain text)."""
        self.note = ""
        """The sentence shown instead of rows, or ""."""

    def display(self, result: pd.DataFrame | str) -> None:
        """Show `period_anomalies`' rows (at most MAX_ROWS), or why there are none."""
        if isinstance(result, str):
            self._show_note(result, "error")
            return
        if result.empty:
            self._show_note(NONE_FOUND, "plain")
            return
        shown = result.head(MAX_ROWS)
        self.rows = [
            {
                "Day": f"{row.day:%Y-%m-%d}",
                "Agent or model": f"{row.group if row.group is not None else '(none)'} ({row.by})",
                "Metric": METRIC_NAMES[row.metric],
                "Value": fmt.metric_value(row.metric, row.value),
                "Usual": fmt.metric_value(row.metric, row.baseline_median),
                "Robust z": fmt.robust_z(row.z),
            }
            for row in shown.itertuples()
        ]
        self.note = "" if len(result) <= MAX_ROWS else f"{len(result) - MAX_ROWS:,} more"
        cells = [
            [
                esc(row["Day"]),
                _named(anomaly.group, anomaly.by),
                *(esc(row[h]) for h in HEADERS[2:-1]),
                badge(row["Robust z"], DIRECTION_COLORS[anomaly.direction]),
            ]
            for row, anomaly in zip(self.rows, shown.itertuples(), strict=True)
        ]
        more = f'<div class="aa-kpi-detail">{esc(self.note)}</div>' if self.note else ""
        self.widget.value = self._frame(table(HEADERS, cells, numeric=(3, 4, 5)) + more)

    def _show_note(self, text: str, kind: str) -> None:
        self.rows, self.note = [], text
        self.widget.value = self._frame(notice(text, kind))

    @staticmethod
    def _frame(body: str) -> str:
        return f'<div class="aa-ui"><h4>Anomalies</h4>{body}</div>'


def _named(group: str | None, by: str) -> str:
    """An agent's or model's name and what it is, the name isolated (`<bdi>`): a name holding
    a right-to-left override would otherwise turn the kit's own "(agent)" around."""
    name = esc(group) if group is not None else "(none)"
    return f"<bdi>{name}</bdi> ({esc(by)})"
