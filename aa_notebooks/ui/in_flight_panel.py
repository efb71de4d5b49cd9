"""The dashboard's "In flight" panel: how many runs are going now, per agent, the oldest's age,
and those whose process stopped sending heartbeats (lost), from `Analytics.running`."""

from __future__ import annotations

import ipywidgets as widgets
import pandas as pd

from aa_notebooks import formatting as fmt
from aa_notebooks.ui.markup import badge, esc, notice, table

HEADERS = ("Agent", "Running", "Lost", "Oldest started", "Oldest age")
LOST_COLOR = "#dc2626"
IDLE = "No runs in flight."


class InFlightPanel:
    """An HTML widget summarising the runs in flight of the dashboard's scope."""

    def __init__(self, timezone: str = "UTC") -> None:
        self.widget = widgets.HTML()
        self.widget.add_class("aa-in-flight")
        self.timezone = timezone
        self.headline = ""
        """The sentence above the table: "3 runs in flight · 1 lost · oldest 2m 05s", or IDLE."""
        self.rows: list[dict[str, str]] = []
        """The agents as displayed, one dict per row keyed by HEADERS."""

    def display(self, result: pd.DataFrame | str) -> None:
        """Show `runs_in_flight`'s result: the per-agent frame, or why there is none."""
        if isinstance(result, str):
            self.show_unavailable(result)
        else:
            self.show(result)

    def show(self, by_agent: pd.DataFrame) -> None:
        """Display `Analytics.running(by_agent=True)`."""
        if by_agent.empty:
            self.headline, self.rows = IDLE, []
            self.widget.value = self._frame(notice(IDLE))
            return
        running, lost = int(by_agent["running"].sum()), int(by_agent["lost"].sum())
        oldest = float(by_agent["oldest_age_s"].max()) * 1000
        parts = [f"{running + lost:,} run{'s' if running + lost != 1 else ''} in flight"]
        if lost:
            parts.append(f"{lost:,} lost")
        parts.append(f"oldest {fmt.duration_ms(oldest)}")
        rows = [
            {
                "Agent": str(row.agent_name),
                "Running": f"{row.running:,}",
                "Lost": f"{row.lost:,}",
                "Oldest started": fmt.timestamp(row.oldest_started_at, self.timezone),
                "Oldest age": fmt.duration_ms(float(row.oldest_age_s) * 1000),
            }
            for row in by_agent.itertuples()
        ]
        # Rows before headline: a reader on another thread that sees the new headline sees its rows.
        self.rows = rows
        self.headline = " · ".join(parts)
        cells = [
            [
                esc(row["Agent"]),
                esc(row["Running"]),
                badge(row["Lost"], LOST_COLOR) if row["Lost"] != "0" else esc(row["Lost"]),
                esc(row["Oldest started"]),
                esc(row["Oldest age"]),
            ]
            for row in self.rows
        ]
        headline = f'<div class="aa-kpi-detail">{esc(self.headline)}</div>'
        self.widget.value = self._frame(headline + table(HEADERS, cells, numeric=(1, 2, 4)))

    def show_unavailable(self, why: str) -> None:
        """Say why the runs in flight cannot be shown (the error, in one line)."""
        self.headline, self.rows = why, []
        self.widget.value = self._frame(notice(why, "error"))

    @staticmethod
    def _frame(body: str) -> str:
        return f'<div class="aa-ui"><h4>In flight</h4>{body}</div>'
