"""The dashboard's toolbar: period (24h, 7d, 30d, 90d or custom dates), user scope, refresh, the
Live toggle, export.

A change the user makes calls `on_change`; changes the code makes to the option lists (new users
in the scope list) do not, so refreshing never triggers another refresh. The silencing is per
thread (observers run in the thread that sets a value), so a refresh filling the scope list in
its worker thread never swallows a click made meanwhile.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import ipywidgets as widgets

from aa_notebooks.ui.markup import esc

PERIODS = ("24h", "7d", "30d", "90d")
CUSTOM = "Custom dates"
ALL_USERS = ""


@dataclass(frozen=True)
class Settings:
    """What the user has chosen: a period or custom dates, and a user scope ("" for all)."""

    period: str | None
    start_date: date | None
    end_date: date | None
    user_id: str


class Controls:
    """The toolbar widgets and the settings they hold."""

    def __init__(
        self,
        period: str,
        fixed_scope: str | None,
        on_change: Callable[[], None],
        on_refresh: Callable[[], None],
        on_export: Callable[[], object],
        on_live: Callable[[bool], None],
    ) -> None:
        self._on_change = on_change
        self._on_live = on_live
        self._quiet = threading.local()
        options = [*PERIODS, *([] if period in PERIODS else [period]), CUSTOM]
        self.period = widgets.ToggleButtons(
            options=options, value=period, style={"button_width": "auto"}
        )
        self.start_date = widgets.DatePicker(description="From", layout={"width": "210px"})
        self.end_date = widgets.DatePicker(description="To", layout={"width": "210px"})
        self._dates = widgets.HBox([self.start_date, self.end_date])
        self._dates.layout.display = "none"
        scope_options = [(fixed_scope, ALL_USERS)] if fixed_scope else [("All users", ALL_USERS)]
        self.scope = widgets.Dropdown(
            options=scope_options,
            description="Scope",
            disabled=fixed_scope is not None,
            layout={"width": "330px"},
        )
        self.refresh = widgets.Button(description="Refresh", icon="refresh")
        self.live = widgets.ToggleButton(
            value=False, description="Live", icon="circle", tooltip="Update as runs complete"
        )
        self.export = widgets.Button(description="Export CSV", icon="download")
        self.status = widgets.HTML()
        self.refresh.on_click(lambda _: on_refresh())
        self.export.on_click(lambda _: on_export())
        self.period.observe(self._period_changed, "value")
        self.start_date.observe(self._dates_changed, "value")
        self.end_date.observe(self._dates_changed, "value")
        self.scope.observe(self._changed, "value")
        self.live.observe(self._live_changed, "value")
        buttons = widgets.HBox([self.scope, self.refresh, self.live, self.export, self.status])
        self.widget = widgets.VBox([self.period, self._dates, buttons])
        self.widget.add_class("aa-controls")

    def settings(self) -> Settings:
        """The current choices."""
        custom = self.period.value == CUSTOM
        return Settings(
            period=None if custom else self.period.value,
            start_date=self.start_date.value if custom else None,
            end_date=self.end_date.value if custom else None,
            user_id=self.scope.value,
        )

    def select(self, period: str | None, start_date: date | None, end_date: date | None) -> None:
        """Show this period (None: the custom dates) without calling `on_change`."""
        with self._silenced():
            if period is None:
                self.start_date.value, self.end_date.value = start_date, end_date
                self.period.value = CUSTOM
                return
            if period not in self.period.options:
                self.period.options = [*self.period.options[:-1], period, CUSTOM]
            self.period.value = period

    def set_users(self, user_ids: Iterable[str]) -> None:
        """Offer these users in the scope list, keeping the current choice."""
        if self.scope.disabled:
            return
        chosen = self.scope.value
        ids = sorted({*user_ids, *([chosen] if chosen else [])})
        with self._silenced():
            self.scope.options = [("All users", ALL_USERS), *((f"user {u}", u) for u in ids)]
            self.scope.value = chosen

    def set_live(self, on: bool) -> None:
        """Show the Live toggle on or off without calling `on_live`."""
        with self._silenced():
            self.live.value = on

    def set_status(self, text: str, busy: bool) -> None:
        """Show what the dashboard is doing ("Refreshing…") or when it was last updated."""
        css = "color:#1d4ed8;font-weight:600" if busy else "color:var(--jp-ui-font-color2,#666)"
        self.status.value = (
            f'<div class="aa-ui aa-status" data-busy="{str(busy).lower()}" '
            f'style="padding:6px 10px;{css}">{esc(text)}</div>'
        )

    @contextmanager
    def _silenced(self) -> Iterator[None]:
        self._quiet.on = True
        try:
            yield
        finally:
            self._quiet.on = False

    def _period_changed(self, change: dict[str, Any]) -> None:
        custom = change["new"] == CUSTOM
        self._dates.layout.display = None if custom else "none"
        if not custom or (self.start_date.value and self.end_date.value):
            self._changed()

    def _dates_changed(self, _change: dict[str, Any]) -> None:
        if self.period.value == CUSTOM and self.start_date.value and self.end_date.value:
            self._changed()

    def _live_changed(self, change: dict[str, Any]) -> None:
        if not getattr(self._quiet, "on", False):
            self._on_live(bool(change["new"]))

    def _changed(self, _change: object = None) -> None:
        if not getattr(self._quiet, "on", False):
            self._on_change()
