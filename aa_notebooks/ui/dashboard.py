"""`Dashboard`: the data contract's Analytics Dashboard, Top Agents & Cost Breakdown and Recent
Executions sections as one ipywidgets composition, refreshed from the analytics layer.

Widget events only request a refresh (see `Refresher`): queries run in a worker thread, the
toolbar says "Refreshing…" meanwhile, and changes made during a refresh become one more refresh
with the latest settings. The Python methods (`set_period`, `refresh`, `select_execution`,
`set_brush`) wait for the result, so scripts and tests read what is shown right after them.

Live mode (`live=True`, the Live toggle, `set_live`): a ticker (`ui/live.py`) adds the runs
completed since its last tick to the cards, the charts' buckets, the grid and the budgets.

Cross-filtering: brushing a time range on the activity chart narrows the KPI cards and the
executions grid to it (the charts keep the whole period, so the brush stays in view); clearing
the brush brings them back to the whole period.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import ipywidgets as widgets

from aa_notebooks import formatting as fmt
from aa_notebooks.analytics import Analytics, Window
from aa_notebooks.errors import AnalyticsError, InvalidInputError
from aa_notebooks.figures import charts
from aa_notebooks.ui.anomalies_panel import AnomaliesPanel
from aa_notebooks.ui.budgets_panel import BudgetsPanel
from aa_notebooks.ui.chart_panel import ChartPanel
from aa_notebooks.ui.controls import Controls, Settings
from aa_notebooks.ui.executions_grid import ExecutionsGrid
from aa_notebooks.ui.export import Exported, export_csv
from aa_notebooks.ui.in_flight_panel import InFlightPanel
from aa_notebooks.ui.kpis import Card, KpiPanel
from aa_notebooks.ui.live import LiveMode, check_every
from aa_notebooks.ui.markup import STYLE, esc, notice
from aa_notebooks.ui.refresher import Refresher
from aa_notebooks.ui.snapshot import Snapshot, load
from aa_notebooks.ui.top_agents import TopAgentsTable
from aa_notebooks.ui.trace import TraceExplorer

ALL, BRUSH = "all", "brush"
DEFAULT_PERIOD = "7d"
WAIT_SECONDS = 300


class Dashboard:
    """The analytics dashboard for `analytics`' database and scope, over `period` (default 7d)
    or the inclusive UTC dates `start_date` to `end_date`."""

    def __init__(
        self,
        analytics: Analytics,
        period: str | None = None,
        *,
        start_date: date | str | None = None,
        end_date: date | str | None = None,
        timezone: str = "UTC",
        export_dir: str | Path | None = None,
        live: bool = False,
        every: float = 5.0,
    ) -> None:
        self.live = LiveMode(self, every)
        """Live mode: ticks every `every` seconds while on (`set_live`)."""
        self._base = analytics
        self._clients: dict[str, Analytics] = {}
        self.timezone = timezone
        self._export_dir = Path.cwd() if export_dir is None else Path(export_dir)
        self._ok = True
        self.brush: Window | None = None
        """The time range brushed on the activity chart (inside the period), or None."""
        self.snapshot: Snapshot | None = None
        """The analytics results on display (None until the first refresh ends)."""
        self.trace: TraceExplorer | None = None
        """The trace explorer of the opened execution, or None."""
        self.exported: Exported | None = None
        """The last CSV export, or None."""
        fixed = None if analytics.user_id is None else analytics.scope  # shown, not compared
        dated = start_date is not None or end_date is not None
        period = period or (None if dated else DEFAULT_PERIOD)
        shown = period or DEFAULT_PERIOD
        changed, refresh, export = self._settings_changed, self.refresh_async, self.export_csv
        self.controls = Controls(shown, fixed, changed, refresh, export, self.set_live)
        self._select(period, start_date, end_date)
        self.kpi_panel = KpiPanel()
        self.in_flight = InFlightPanel(timezone)
        """Runs going now, per agent, with the lost ones (their process stopped beating)."""
        self.activity = ChartPanel("activity", on_brush=self._brushed)
        self.cost_by_model = ChartPanel("cost-by-model")
        self.cost_over_time = ChartPanel("cost-over-time")
        self.top_agents = TopAgentsTable()
        self.recent = ExecutionsGrid(on_open=self._open, timezone=timezone)
        """The executions grid: every execution of the period (or of the brushed range)."""
        self.recent_box = widgets.VBox(
            [widgets.HTML('<div class="aa-ui"><h4>Recent Executions</h4></div>'), self.recent]
        )
        self.recent_box.add_class("aa-recent-executions")
        self._message = widgets.HTML()
        self.message = ""
        """The sentence in the message area (an error, an empty period, an export), or ""."""
        self._heading = widgets.HTML()
        self._trace_area = widgets.VBox()
        self.budgets = BudgetsPanel()
        self.anomalies = AnomaliesPanel()
        """The period's anomalous days per agent and model, most extreme first."""
        self.budgets_area = widgets.VBox([self.budgets.widget])
        """The budgets panel: the active budgets of the scope shown, refreshed with the rest."""
        self.widget = self._layout()
        self._refresher = Refresher(self._run, self._busy, self._failed)
        self.refresh()
        if live:
            self.set_live(True)

    def _layout(self) -> widgets.VBox:
        charts_row = widgets.HBox([self.cost_by_model.widget, self.cost_over_time.widget])
        charts_row.layout.flex_flow = "row wrap"
        box = widgets.VBox(
            [
                widgets.HTML(STYLE),
                self._heading,
                self.controls.widget,
                self._message,
                self.kpi_panel.widget,
                self.in_flight.widget,
                self.activity.widget,
                charts_row,
                self.top_agents.widget,
                self.anomalies.widget,
                self.budgets_area,
                self.recent_box,
                self._trace_area,
            ]
        )
        box.add_class("aa-dashboard")
        return box

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        return cast(dict[str, Any] | None, self.widget._repr_mimebundle_(**kwargs))

    # --- what is shown -------------------------------------------------------------------

    @property
    def kpis(self) -> dict[str, str]:
        """Each KPI card's main value as displayed, by title (P50/P95/P99 included)."""
        return {card.title: card.value for card in self.kpi_panel.cards}

    @property
    def cards(self) -> tuple[Card, ...]:
        """The KPI cards as displayed: value, detail line and change against the previous window."""
        return self.kpi_panel.cards

    @property
    def period(self) -> str:
        """The selected period ("7d", ...) or "Custom dates"."""
        return str(self.controls.period.value)

    @property
    def analytics(self) -> Analytics:
        """The client the dashboard was opened with (its database, scope and clock)."""
        return self._base

    @property
    def window(self) -> Window | None:
        """The period on display (the charts' window; see `brush` for a narrower range)."""
        return None if self.snapshot is None else self.snapshot.window

    @property
    def busy(self) -> bool:
        """Whether a refresh is running or queued."""
        return self._refresher.busy

    @property
    def refresh_runs(self) -> int:
        """How many refreshes have run (coalesced requests count once)."""
        return self._refresher.runs

    # --- actions --------------------------------------------------------------------------

    def set_period(
        self,
        period: str | None = None,
        *,
        start_date: date | str | None = None,
        end_date: date | str | None = None,
        wait: bool = True,
    ) -> None:
        """Show `period` ("24h", "7d", "30d", "90d"...) or inclusive dates, as the selector does."""
        self._select(period, start_date, end_date)
        self._settings_changed()
        if wait:
            self.wait()

    def _select(
        self, period: str | None, start_date: date | str | None, end_date: date | str | None
    ) -> None:
        """Check the period or dates with the analytics layer, then show them in the toolbar."""
        window = self._base.window(period, start_date, end_date)  # errors list accepted forms
        if period is not None:
            self.controls.select(period, None, None)
        elif end_date is None:
            raise InvalidInputError("custom dates need both a start_date and an end_date")
        else:
            last = window.end.date() - timedelta(days=1)  # the window ends after the end date
            self.controls.select(None, window.start.date(), last)

    def set_user(self, user_id: str | None, *, wait: bool = True) -> None:
        """Show one user's executions (None: all users), as the scope selector does."""
        if self.controls.scope.disabled:
            raise InvalidInputError(f"this dashboard is fixed to {self._base.scope}")
        self.controls.set_users([user_id] if user_id else [])
        self.controls.scope.value = user_id or ""
        if wait:
            self.wait()

    def refresh(self) -> None:
        """Reload every panel with the current settings and wait for it."""
        self.refresh_async()
        self.wait()

    def refresh_async(self) -> None:
        """Ask for a refresh of every panel (merged with one already queued) and return."""
        self._refresher.request({ALL})

    def wait(self, timeout: float = WAIT_SECONDS) -> None:
        """Block until no refresh is running or queued."""
        self._refresher.wait(timeout)

    def select_execution(self, execution_id: uuid.UUID | str) -> TraceExplorer:
        """Open an execution in the trace explorer below the tables (as its row's button does)."""
        client = self._base if self.snapshot is None else self.snapshot.client
        self.trace = TraceExplorer(client, execution_id, timezone=self.timezone)
        close = widgets.Button(description="Close trace")
        close.on_click(lambda _: self.close_trace())
        self._trace_area.children = (close, self.trace.widget)
        return self.trace

    def set_brush(self, start: datetime, end: datetime, *, wait: bool = True) -> None:
        """Narrow the KPI cards and the grid to [start, end), as brushing the chart does."""
        self._brushed((start, end))
        if wait:
            self.wait()

    def clear_brush(self, *, wait: bool = True) -> None:
        """Show the whole period again, as clearing the chart's brush does."""
        self._brushed(None)
        if wait:
            self.wait()

    def set_live(self, on: bool, every: float | None = None) -> None:
        """Switch live mode on (ticking every `every` seconds) or off, as the Live toggle does."""
        self.live.stop()
        if every is not None:
            self.live.every = check_every(every)
        self.controls.set_live(on)
        if on:
            self.live.start()
        self._busy(self.busy)

    def live_stopped(self, message: str) -> None:
        """Live mode ended by an error: the toggle goes off, the message says why, and the
        status says it stopped (live mode's thread is still ending: it would say "Live")."""
        self.controls.set_live(False)
        self._ok = False
        self._say(message, "error")
        moment = fmt.timestamp(self._base.now(), self.timezone)
        self.controls.set_status(f"Live stopped {moment}", busy=False)

    def close(self) -> None:
        """Stop live mode and the executions list's background work, and close the widgets."""
        self.live.stop()
        self.recent.close()
        self.widget.close()

    def close_trace(self) -> None:
        """Hide the trace explorer."""
        self.trace = None
        self._trace_area.children = ()

    def export_csv(self) -> Exported | None:
        """Write the current view's executions as CSV next to the notebook and offer a download."""
        if self.snapshot is None:
            return None
        shown = self.snapshot
        try:
            window = self.brush or shown.window
            self.exported = export_csv(shown.client, window, self._export_dir)
        except (AnalyticsError, OSError) as exc:
            self._say(f"Export failed: {exc}", "error")
            return None
        self.message = f"Exported {self.exported.rows:,} executions to {self.exported.path.name}"
        self._message.value = self.exported.html()
        return self.exported

    # --- refreshing -----------------------------------------------------------------------

    def _client(self) -> Analytics:
        user = self.controls.settings().user_id
        if not user:
            return self._base
        if user not in self._clients:
            self._clients[user] = self._base.scoped(user)
        return self._clients[user]

    def _settings_changed(self) -> None:
        self._refresher.request({ALL})

    def _brushed(self, brushed: tuple[datetime, datetime] | None) -> None:
        """Keep the brushed range (clipped to the period) and refresh the cards and the grid."""
        shown = self.snapshot
        if shown is None:
            return
        self.brush = None if brushed is None else _clipped(brushed, shown.window)
        self._refresher.request({BRUSH})

    def _open(self, execution_id: str) -> None:
        self.select_execution(execution_id)

    def _busy(self, busy: bool) -> None:
        moment = fmt.timestamp(self._base.now(), self.timezone)
        if busy:
            self.controls.set_status("Refreshing…", busy=True)
        elif self.live.on:
            self.controls.set_status(self.live.label(), busy=False)
        elif self._ok:
            self.controls.set_status(f"Updated {moment}", busy=False)
        else:
            self.controls.set_status(f"Refresh failed {moment}", busy=False)

    def _failed(self, exc: Exception) -> None:
        """An unexpected error as one line: the driver's own error and its first line."""
        self._ok = False
        cause = getattr(exc, "orig", None) or exc
        first = (str(cause).strip().splitlines() or [""])[0]
        self._say(f"Refresh failed: {type(cause).__name__}: {first}", "error")

    def _say(self, text: str, kind: str) -> None:
        self.message = text
        self._message.value = notice(text, kind) if text else ""

    def _window(self, settings: Settings) -> Window | None:
        if settings.period is None and not (settings.start_date and settings.end_date):
            self._say("Choose a start and an end date for the custom period.", "info")
            return None
        return self._base.window(settings.period, settings.start_date, settings.end_date)

    def _run(self, parts: frozenset[str]) -> None:
        """One refresh: fetch what `parts` names, then update the panels (errors as a message)."""
        try:
            if ALL in parts or self.snapshot is None:
                window = self._window(self.controls.settings())
                if window is not None:
                    self.brush = None
                    client, listing = self._client(), self.recent.listing_for
                    with self.live.reading:  # a tick waits; then it reads from the new mark
                        self.recent.stop_walk()  # the list a tick may have just shown
                        shown = load(client, self._base, window, listing)
                        self._show(shown)
                        self.live.reset(shown)
            else:
                self._show_brushed(self.snapshot)
            self._ok = True
        except AnalyticsError as exc:
            self._ok = False
            self._say(str(exc), "error")
        except Exception as exc:  # a driver or other unexpected error: still a message, not a trace
            self._failed(exc)

    def _empty_text(self, window: Window) -> str:
        return f"No executions in {window}."

    def _show(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        window, empty = snapshot.window, self._empty_text(snapshot.window)
        self._heading.value = (
            f'<div class="aa-ui"><h3>Agent Analytics</h3><div class="aa-kpi-detail">'
            f"{esc(window)} · {esc(snapshot.client.scope)}</div></div>"
        )
        self.controls.set_users(snapshot.users)
        if snapshot.overview.total_executions == 0:
            self._say(f"{empty} Choose a longer period or another scope.", "info")
        else:
            self._say("", "plain")
        self.kpi_panel.show(snapshot.overview, snapshot.previous)
        self._show_charts(snapshot, empty)
        self.top_agents.show(snapshot.top_agents.frame, empty)
        self.recent.display(snapshot.client, snapshot.executions)
        agents = snapshot.top_agents.frame["agent_name"].dropna()
        self.recent.agents = sorted({str(name) for name in agents})
        models = snapshot.cost_by_model.frame["model"].dropna()
        self.recent.models = sorted({str(model) for model in models})
        self.budgets.display(snapshot.budgets)
        self.anomalies.display(snapshot.anomalies)
        self.in_flight.display(snapshot.in_flight)

    def _show_brushed(self, shown: Snapshot) -> None:
        """The cards and the grid for the brushed range, or for the whole period again."""
        client = shown.client
        if self.brush is None:
            self.kpi_panel.show(shown.overview, shown.previous)
            self.recent.display(client, self.recent.listing_for(client, shown.window))
            self._say("", "plain")
            return
        window = self.brush
        now, before = client.overview(window), client.overview(window.previous(), unpriced=False)
        self.kpi_panel.show(now, before)
        self.recent.display(client, self.recent.listing_for(client, window))
        self._say(
            f"Cards and executions show {window}: the range brushed on the chart "
            "(click the chart outside it to show the whole period).",
            "info",
        )

    def _show_charts(self, snapshot: Snapshot, empty: str) -> None:
        if snapshot.overview.total_executions == 0:
            for panel in (self.activity, self.cost_by_model, self.cost_over_time):
                panel.show_empty(f"Nothing to chart: {empty[0].lower()}{empty[1:]}")
            return
        self.activity.show(charts.activity(snapshot.activity.frame, snapshot.bucket))
        self.cost_by_model.show(charts.cost_by_model(snapshot.cost_by_model.frame))
        over_time = snapshot.cost_over_time.frame
        self.cost_over_time.show(charts.cost_over_time(over_time, snapshot.bucket))


def _clipped(brushed: tuple[datetime, datetime], window: Window) -> Window | None:
    """The brushed range inside the period, as a window [start, end); None when empty."""
    lower, upper = window.bounds()
    start, end = max(brushed[0], lower), min(brushed[1], upper)
    if start >= end:
        return None
    return Window(start, end, False, "brushed")  # shown as "brushed [start – end) UTC"
