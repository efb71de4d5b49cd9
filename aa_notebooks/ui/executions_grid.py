"""`ExecutionsGrid`: every execution of a window in a scrolling grid, paged from the kernel.

The front end (`widgets/executions_grid.js`) draws only the rows on screen and asks for the row
ranges it lacks with a custom message; the kernel answers from `Analytics.execution_rows`, which
sorts and filters in SQL and keeps no rows, only a few known positions. Sorting and filters are
synced traits: a change makes a new list (`version` + 1) and the front end drops what it holds.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import anywidget
import traitlets as t

from aa_notebooks import formatting as fmt
from aa_notebooks.analytics import Analytics, ExecutionRows, Window
from aa_notebooks.analytics.choices import SORT_COLUMNS, SORT_ORDERS, SortColumn, SortOrder, choose
from aa_notebooks.errors import AnalyticsError
from aa_notebooks.ui.assets import asset
from aa_notebooks.ui.markup import plain

COLUMNS = (
    {"key": "started_at", "title": "Timestamp", "sort": "started_at", "numeric": False},
    {"key": "query_preview", "title": "Query Preview", "sort": None, "numeric": False},
    {"key": "agent", "title": "Agent", "sort": "agent_name", "numeric": False},
    {"key": "model", "title": "Model", "sort": "model_name", "numeric": False},
    {"key": "status", "title": "Status", "sort": "status", "numeric": False},
    {"key": "duration", "title": "Duration", "sort": "execution_time_ms", "numeric": True},
    {"key": "tokens", "title": "Tokens", "sort": "total_tokens", "numeric": True},
    {"key": "cost", "title": "Cost", "sort": "cost_usd", "numeric": True},
)
FILTER_KEYS = (
    "status", "agent", "model", "min_cost", "max_cost", "min_duration_ms", "max_duration_ms",
    "search",
)  # fmt: skip
MAX_ROWS_PER_REQUEST = 500
MAX_NEW_MARKED = 200
"""Rows added by live mode that stay marked new (the newest ones)."""


def display_row(record: dict[str, Any], timezone: str) -> dict[str, Any]:
    """One execution as the grid shows it: its id, status and each column's text."""
    cells = {
        "started_at": fmt.timestamp(record["started_at"], timezone),
        "query_preview": plain(record["query_preview"]),
        "agent": plain(record["agent_name"] or record["agent_id"]),
        "model": plain(record["model_name"]),
        "status": str(record["status"]),
        "duration": fmt.duration_ms(record["execution_time_ms"]) or "–",
        "tokens": fmt.count(record["total_tokens"]) or "–",
        "cost": fmt.money(record["cost_usd"]) or "–",
    }
    return {
        "id": str(record["id"]),
        "status": cells["status"],
        "cells": [cells[str(column["key"])] for column in COLUMNS],
    }


def filter_arguments(filters: dict[str, Any]) -> dict[str, Any]:
    """The grid's filter fields as `execution_rows` arguments; empty fields are no filter.

    The agent field matches an agent id when it is a UUID, else an agent name.
    """
    unknown = sorted(set(filters) - set(FILTER_KEYS))
    if unknown:
        raise AnalyticsError(f"unknown grid filter {', '.join(unknown)}")
    given: dict[str, Any] = {
        key: str(value).strip() for key, value in filters.items() if value not in (None, "")
    }
    given = {key: value for key, value in given.items() if value}
    if "search" in filters and str(filters["search"]) != "":
        given["search"] = str(filters["search"])  # searched as typed, spaces included
    agent = given.pop("agent", None)
    if agent is not None:
        try:
            given["agent_id"] = uuid.UUID(agent)
        except ValueError:
            given["agent_name"] = agent
    return given


class ExecutionsGrid(anywidget.AnyWidget):
    """A window's executions, every one reachable by scrolling; a click opens one."""

    _esm = asset("executions_grid.js")
    _css = asset("executions_grid.css")

    columns = t.List(t.Dict(), default_value=[dict(column) for column in COLUMNS]).tag(sync=True)
    total = t.Int(0, help="Executions matching the filters.").tag(sync=True)
    counting = t.Bool(
        False, help="Whether `total` is only the rows counted so far (the rest in the background)."
    ).tag(sync=True)
    version = t.Int(0, help="Bumped whenever the list changes; older answers are dropped.").tag(
        sync=True
    )
    sort_by = t.Unicode("started_at").tag(sync=True)
    sort_order = t.Unicode("desc").tag(sync=True)
    filters = t.Dict(help="The filter fields as typed (FILTER_KEYS), empty ones unused.").tag(
        sync=True
    )
    error = t.Unicode("", help="Why the last change could not be shown, or empty.").tag(sync=True)
    label = t.Unicode("", help="The window and scope shown.").tag(sync=True)
    agents = t.List(t.Unicode(), help="Agent names offered in the agent filter.").tag(sync=True)
    models = t.List(t.Unicode(), help="Models offered in the model filter.").tag(sync=True)
    selected = t.Unicode("", help="The id of the execution opened last.").tag(sync=True)
    row_height = t.Int(30).tag(sync=True)
    height = t.Int(420, help="The scrolling area's height in pixels.").tag(sync=True)

    def __init__(
        self,
        analytics: Analytics | None = None,
        window: Window | str | None = None,
        *,
        on_open: Callable[[str], None] | None = None,
        timezone: str = "UTC",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._analytics = analytics
        self._window: Window | None = None
        self._list: ExecutionRows | None = None
        self._arguments: dict[str, Any] = {}
        self._on_open = on_open
        self._timezone = timezone
        self._new: dict[str, None] = {}
        self._showing = threading.Lock()  # the list shown vs. its background count's answer
        self._closed = False
        self.on_msg(self._message)
        self.observe(self._changed, names=["sort_by", "sort_order", "filters"])
        if analytics is not None:
            self.show(analytics, analytics.window(window) if isinstance(window, str) else window)

    # --- what is listed -----------------------------------------------------------------------

    def show(self, analytics: Analytics, window: Window | None = None) -> None:
        """List `window`'s executions (default: the client's default window) for `analytics`."""
        self._analytics = analytics
        self._window = window if window is not None else analytics.window()
        self._relist()

    def set_filters(self, **fields: Any) -> None:
        """Filter as the toolbar does (FILTER_KEYS; None or "" clears one): a new list."""
        self.filters = {key: "" if value is None else value for key, value in fields.items()}

    def sort(self, by: str, order: str = "desc") -> None:
        """Sort by a column (`executions`' sort_by names) as a header click does."""
        with self.hold_trait_notifications():
            self.sort_by, self.sort_order = by, order

    def _sort_column(self) -> SortColumn:
        return choose(self.sort_by, SORT_COLUMNS, "sort_by")

    def _sort_order(self) -> SortOrder:
        return choose(self.sort_order, SORT_ORDERS, "sort_order")

    @property
    def listing(self) -> ExecutionRows | None:
        """The list shown (its window, filters, sort and total), or None before `show`."""
        return self._list

    def rows(self, offset: int, limit: int) -> list[dict[str, Any]]:
        """Rows [offset, offset + limit) as the front end receives them."""
        if self._list is None:
            return []
        limit = max(0, min(int(limit), MAX_ROWS_PER_REQUEST))
        frame = self._list.rows(max(0, int(offset)), limit)
        shown = [display_row(record, self._timezone) for record in frame.to_dict("records")]
        return [{**row, "new": True} if row["id"] in self._new else row for row in shown]

    @property
    def new_ids(self) -> tuple[str, ...]:
        """The ids live mode added since the last full list, newest first (marked "new")."""
        return tuple(reversed(self._new))

    def add_live_rows(self, analytics: Analytics, window: Window, ids: list[str]) -> None:
        """Show executions a live tick found (`ids`, newest first) over the longer `window`:
        a list sorted by time without filters grows by them without counting the window
        again; any other list is made anew. They are marked new in the front end."""
        for execution_id in reversed(ids):
            self._new[execution_id] = None
        while len(self._new) > MAX_NEW_MARKED:
            del self._new[next(iter(self._new))]
        current = self._list
        if (
            current is not None
            and not self._arguments
            and current.sort_by == "started_at"
            and current.counted
        ):
            self.display(analytics, current.grown(window, len(ids)), keep_new=True)
        else:
            self.display(analytics, self.listing_for(analytics, window), keep_new=True)

    def open_execution(self, execution_id: str) -> None:
        """Open one execution, as a row click does."""
        self.selected = str(execution_id)
        if self._on_open is not None:
            self._on_open(self.selected)

    # --- protocol -----------------------------------------------------------------------------

    def answer(self, request: dict[str, Any]) -> dict[str, Any] | None:
        """The reply to one message from the front end (None for those that need none)."""
        kind = request.get("kind")
        if kind == "rows":
            reply: dict[str, Any] = {
                "kind": "rows",
                "offset": request.get("offset", 0),
                "version": request.get("version"),
            }
            if request.get("version") != self.version:
                return {**reply, "rows": [], "stale": True}  # a list since replaced
            try:
                reply["rows"] = self.rows(int(request["offset"]), int(request["limit"]))
            except (AnalyticsError, KeyError, TypeError, ValueError) as exc:
                reply.update(rows=[], error=f"Could not read rows: {exc}")
            return reply
        if kind == "open":
            self.open_execution(str(request.get("id", "")))
        return None

    def _message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        reply = self.answer(content if isinstance(content, dict) else {})
        if reply is not None:
            self.send(reply)

    def _changed(self, _change: Any) -> None:
        if self._analytics is not None:
            self._relist()

    def listing_for(self, analytics: Analytics, window: Window) -> ExecutionRows:
        """A new list of `window` with the grid's sort and its last valid filters (for callers
        that make it elsewhere, such as the dashboard's refresh, then `display` it)."""
        return analytics.execution_rows(
            period=window,
            sort_by=self._sort_column(),
            sort_order=self._sort_order(),
            count_later=True,
            **self._arguments,
        )

    def display(
        self, analytics: Analytics, listing: ExecutionRows, *, keep_new: bool = False
    ) -> None:
        """Show a list made by `listing_for`; the front end drops the rows it holds. Rows marked
        new stay so only when `keep_new` (a live tick), not for a full list."""
        with self._showing:
            if self._closed:  # a refresh that was running when the grid closed
                listing.close()
                return
            if self._list is not None and self._list is not listing:
                self._list.close()
            self._analytics, self._window, self._list = analytics, listing.window, listing
            if not keep_new:
                self._new.clear()
            with self.hold_sync():
                self.error = ""
                self.label = f"{listing.window} · {analytics.scope}"
                self.total = listing.total
                self.counting = not listing.counted
                self.version += 1
        # The rest of the count, then marks that make far jumps short seeks.
        listing.start_mapping(on_counted=lambda total: self._counted(listing, total))

    def close(self) -> None:
        """Stop the shown list's background count and walk, and any list displayed later (a
        refresh still running), and close the widget."""
        with self._showing:
            self._closed = True
            if self._list is not None:
                self._list.close()
        super().close()

    def stop_walk(self) -> None:
        """Stop the shown list's background marking while a new list is read (it would compete
        for the database and the interpreter); its count and pages keep working."""
        if self._list is not None:
            self._list.stop_walk()

    def _counted(self, listing: ExecutionRows, total: int) -> None:
        """The background count of `listing` is done: show its total if it is still shown."""
        with self._showing:
            if listing is not self._list:
                return
            with self.hold_sync():
                self.total = total
                self.counting = False

    def _relist(self) -> None:
        """Make the list for the current window, filters and sort; on bad input, say why and
        keep showing the previous list."""
        assert self._analytics is not None and self._window is not None
        try:
            arguments = filter_arguments(self.filters)
            listing = self._analytics.execution_rows(
                period=self._window,
                sort_by=self._sort_column(),
                sort_order=self._sort_order(),
                count_later=True,
                **arguments,
            )
        except AnalyticsError as exc:
            self.error = str(exc)
            return
        self._arguments = arguments
        self.display(self._analytics, listing)
