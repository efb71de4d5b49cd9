"""The "Top Agents by Usage" table: executions, success rate, average time and cost per agent."""

from __future__ import annotations

import ipywidgets as widgets
import pandas as pd

from aa_notebooks import formatting as fmt
from aa_notebooks.ui.markup import esc, notice, plain, table

HEADERS = ("Agent", "Executions", "Success Rate", "Avg Time", "Cost")


def displayed_rows(frame: pd.DataFrame) -> list[dict[str, str]]:
    """The rows as the table shows them (plain text, before escaping)."""
    return [
        dict(
            zip(
                HEADERS,
                (
                    plain(row.agent),
                    fmt.count(row.executions),
                    fmt.percent(row.success_rate) or "–",
                    fmt.duration_ms(row.avg_response_time_ms) or "–",
                    fmt.money(row.cost_usd),
                ),
                strict=True,
            )
        )
        for row in frame.itertuples(index=False)
    ]


class TopAgentsTable:
    """An HTML widget holding the top agents of the current window."""

    def __init__(self) -> None:
        self.widget = widgets.HTML()
        self.rows: list[dict[str, str]] = []

    def show(self, frame: pd.DataFrame, empty: str) -> None:
        """Display `top_agents(...).frame`, or `empty` in words when it has no rows."""
        self.rows = displayed_rows(frame)
        cells = [[esc(v) for v in row.values()] for row in self.rows]
        body = table(HEADERS, cells, numeric=(1, 2, 3, 4)) if cells else notice(empty)
        self.widget.value = (
            f'<div class="aa-ui" data-panel="top-agents"><h4>Top Agents by Usage</h4>{body}</div>'
        )
