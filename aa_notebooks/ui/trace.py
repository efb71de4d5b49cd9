"""`TraceExplorer`: one execution's header, its steps as a waterfall (nested, on a time axis, with
the same steps as text below it) and its token usage.

Everything shown comes from `Analytics.execution(id)`; an unknown id or a database error shows
as a sentence in the widget rather than a traceback.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

import ipywidgets as widgets
import pandas as pd

from aa_notebooks import formatting as fmt
from aa_notebooks.analytics import Analytics, ExecutionDetail
from aa_notebooks.errors import AnalyticsError
from aa_notebooks.figures import charts
from aa_notebooks.ui.chart_panel import ChartPanel
from aa_notebooks.ui.markup import STYLE, esc, facts, notice, plain, status_badge, table
from aa_notebooks.ui.trace_steps import displayed_steps, step_html
from aa_notebooks.ui.trace_waterfall import TraceWaterfall

USAGE_HEADERS = ("Component", "Model", "Step", "Input Tokens", "Output Tokens", "Cost")


def _header(execution: dict[str, Any], timezone: str) -> dict[str, str]:
    """The execution's facts as shown at the top (plain text, before escaping)."""
    tokens = (
        f"{fmt.count(execution['total_tokens'])} (in {fmt.count(execution['input_tokens'])} / "
        f"out {fmt.count(execution['output_tokens'])})"
    )
    shown = {
        "Status": str(execution["status"]),
        "Agent": plain(execution["agent_name"] or execution["agent_id"]),
        "Model": plain(execution["model_name"]),
        "Duration": fmt.duration_ms(execution["execution_time_ms"]) or "–",
        "Tokens": tokens,
        "Cost": fmt.money(execution["cost_usd"]) or "–",
        "Started": fmt.timestamp(execution["started_at"], timezone),
        "Query": plain(execution["query_preview"]),
    }
    error = ": ".join(str(e) for e in (execution["error_type"], execution["error_message"]) if e)
    if error:
        shown["Error"] = error
    return shown


def _usage_rows(usage: pd.DataFrame) -> list[dict[str, str]]:
    return [
        dict(
            zip(
                USAGE_HEADERS,
                (
                    plain(row.component),
                    plain(row.model),
                    "–" if pd.isna(row.step_number) else str(int(row.step_number)),
                    fmt.count(row.input_tokens),
                    fmt.count(row.output_tokens),
                    fmt.money(row.cost_usd),
                ),
                strict=True,
            )
        )
        for row in usage.itertuples(index=False)
    ]


class TraceExplorer:
    """One execution in detail, as a widget; `header`, `steps` and `token_usage` hold the text."""

    def __init__(
        self, analytics: Analytics, execution_id: uuid.UUID | str, *, timezone: str = "UTC"
    ) -> None:
        self.execution_id = str(execution_id)
        self.header: dict[str, str] = {}
        self.steps: list[dict[str, str]] = []
        self.token_usage: list[dict[str, str]] = []
        self.error: str | None = None
        """Why the execution could not be shown, or None."""
        self.waterfall: TraceWaterfall | None = None
        """The steps' waterfall, or None when there are no steps to draw."""
        self.usage_chart = ChartPanel("token-usage")
        self.widget = widgets.VBox()
        self.widget.add_class("aa-trace-explorer")
        try:
            detail = analytics.execution(execution_id)
        except AnalyticsError as exc:
            self.error = str(exc)
            self.widget.children = (widgets.HTML(STYLE + notice(self.error, "error")),)
            return
        self._show(detail, timezone)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        return cast(dict[str, Any] | None, self.widget._repr_mimebundle_(**kwargs))

    def _show(self, detail: ExecutionDetail, timezone: str) -> None:
        self.header = _header(detail.execution, timezone)
        pairs = [(k, status_badge(v) if k == "Status" else esc(v)) for k, v in self.header.items()]
        head = widgets.HTML(
            f'{STYLE}<div class="aa-ui" data-panel="trace-header">'
            f"<h3>Execution {esc(detail.id)}</h3>{facts(pairs)}</div>"
        )
        self.widget.children = (head, self._steps_widget(detail), *self._usage_widgets(detail))

    def _steps_widget(self, detail: ExecutionDetail) -> widgets.Widget:
        if detail.traces is None:
            return widgets.HTML(notice("This database records no trace steps (no table)."))
        self.steps = displayed_steps(detail.traces)
        if not self.steps:
            return widgets.HTML(
                '<div class="aa-ui"><h4>ReAct Steps</h4></div>'
                + notice("This execution has no trace steps recorded.")
            )
        body = "".join(step_html(step) for step in self.steps)
        self.waterfall = TraceWaterfall.of(detail)
        title = widgets.HTML('<div class="aa-ui"><h4>Steps</h4></div>')
        as_text = widgets.HTML(
            f'<div class="aa-ui" data-panel="trace-steps"><details class="aa-steps-text">'
            f"<summary>Steps as text</summary>{body}</details></div>"
        )
        return widgets.VBox([title, self.waterfall, as_text])

    def _usage_widgets(self, detail: ExecutionDetail) -> list[widgets.Widget]:
        title = '<div class="aa-ui"><h4>Token Usage by Component</h4>'
        if detail.token_usage is None or detail.token_usage.empty:
            return [widgets.HTML(title + notice("No token usage recorded.") + "</div>")]
        self.token_usage = _usage_rows(detail.token_usage)
        cells = [[esc(v) for v in row.values()] for row in self.token_usage]
        self.usage_chart.show(charts.token_usage(detail.token_usage))
        rows = widgets.HTML(title + table(USAGE_HEADERS, cells, numeric=(2, 3, 4, 5)) + "</div>")
        return [widgets.HBox([rows, self.usage_chart.widget])]
