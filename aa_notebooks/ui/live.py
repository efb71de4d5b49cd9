"""Live mode for the dashboard: a daemon thread that ticks every few seconds.

Each tick reads only the executions completed since the last one (`Analytics.live`, through
the (completed_at, id) index) and updates the KPI cards, the charts' touched buckets, the
executions grid (new rows marked new), the runs in flight and the budgets panel (at most every
30 s). A full refresh reopens the live view (a new mark and sketch). Ticks and refreshes never
overlap (`reading`).
In IPython, ticks pause while the kernel runs another cell; the thread ends when live mode is
switched off, the dashboard is closed or garbage, or a tick fails (the message says why).
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pandas as pd

from aa_notebooks.analytics.live import LiveView, Tick
from aa_notebooks.errors import AnalyticsError, InvalidInputError
from aa_notebooks.figures import charts
from aa_notebooks.ui.budgets_panel import budget_statuses
from aa_notebooks.ui.snapshot import runs_in_flight

if TYPE_CHECKING:
    from aa_notebooks.ui.dashboard import Dashboard
    from aa_notebooks.ui.snapshot import Snapshot

MIN_EVERY_SECONDS = 1.0
BUDGETS_EVERY_SECONDS = 30.0
"""Budgets are read again at most this often: their spend sums whole budget periods (0.3 s at
1M executions), far more than a tick's 50 ms."""
PAUSED, STARTING = "Live · paused", "Live · starting"


def check_every(seconds: object) -> float:
    """A tick interval in seconds (at least MIN_EVERY_SECONDS), or an error saying what to give."""
    number = seconds if isinstance(seconds, int | float) and not isinstance(seconds, bool) else None
    if number is None or not math.isfinite(number) or number < MIN_EVERY_SECONDS:
        raise InvalidInputError(
            f"every must be a number of seconds of at least {MIN_EVERY_SECONDS:g} "
            f"(e.g. every=5); got {seconds!r}"
        )
    return float(number)


class LiveMode:
    """The ticker of one dashboard; `on` says whether it runs."""

    def __init__(self, board: Dashboard, every: float) -> None:
        self._board = weakref.ref(board)
        self.every = check_every(every)
        self.reading = threading.Lock()
        """Held by a tick and by a full refresh, so they never overlap."""
        self.view: LiveView | None = None
        self._frames: tuple[pd.DataFrame, pd.DataFrame] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._shell: Any = None
        self.paused = False
        """Whether the kernel is running another cell (ticks wait)."""
        self.ticks = 0
        """Ticks run since live mode was switched on."""
        self.status = ""
        """The toolbar text live mode shows ("Live · updated 12:00:05", "Live · paused")."""
        self._updated = ""
        self._budgets_read = 0.0

    @property
    def on(self) -> bool:
        """Whether the ticker runs."""
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def start(self) -> None:
        """Start ticking (no-op when on) from a live view of what is shown, opened now."""
        if self.on:
            return
        board = self._board()
        with self.reading:  # the mark is now: runs recorded from here on are added
            if board is not None and board.snapshot is not None:
                self._open(board.snapshot)
        self._stop = threading.Event()
        self._watch_kernel()
        self._thread = threading.Thread(target=self._loop, args=(self._stop,), daemon=True,
                                        name="aa-dashboard-live")  # fmt: skip
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking (the thread ends within one interval) and stop watching the kernel."""
        self._stop.set()
        self._unwatch_kernel()

    def reset(self, shown: Snapshot) -> None:
        """After a full refresh (holding `reading`): a new view, mark and sketch when on."""
        self.view, self._frames = None, None
        if self.on:
            self._open(shown)

    def tick(self) -> Tick | None:
        """One tick now: add what completed since the last, update the panels; None when
        there is nothing to tick (no dashboard, nothing shown yet) or a cell is running."""
        board = self._board()
        if board is None or board.snapshot is None:
            return None
        with self.reading:
            shown = board.snapshot
            if shown is None or self.paused:  # or a cell began while this tick waited
                return None
            if self.view is None:
                self._open(shown)
            assert self.view is not None
            found = self.view.tick()
            if found.rows:
                self._show(board, shown, found)
            board.in_flight.display(runs_in_flight(shown.client))  # a few rows: every tick
            self.ticks += 1
        self._updated = self._clock(board)
        self._say(board, self.label())
        return found

    def label(self) -> str:
        """What the toolbar says while live: paused, starting, or when it last updated."""
        if self.paused:
            return PAUSED
        return f"Live · updated {self._updated}" if self._updated else STARTING

    # --- the thread ------------------------------------------------------------------------

    def _loop(self, stop: threading.Event) -> None:
        while not stop.wait(self.every):
            if self._board() is None:
                break
            if self.paused:
                continue
            try:
                self.tick()
            except Exception as exc:  # a database or other error: said once, then stopped
                self._failed(exc)  # the message first: whoever sees live mode off finds why
                stop.set()
                break
        if stop is self._stop:  # not switched on again meanwhile (that run watches the kernel)
            self._unwatch_kernel()

    def _failed(self, exc: Exception) -> None:
        board = self._board()
        if board is None:
            return
        if isinstance(exc, AnalyticsError):  # already one sentence saying what to do
            board.live_stopped(f"Live mode stopped: {exc}")
            return
        cause = getattr(exc, "orig", None) or exc
        first = (str(cause).strip().splitlines() or [""])[0]
        board.live_stopped(f"Live mode stopped: {type(cause).__name__}: {first}")

    # --- what a tick shows ---------------------------------------------------------------------

    def _open(self, shown: Snapshot) -> None:
        self.view = shown.client.live(shown.window, shown.bucket)
        self._frames = (shown.activity.frame, shown.cost_over_time.frame)

    def _show(self, board: Dashboard, shown: Snapshot, found: Tick) -> None:
        view, frames = self.view, self._frames
        assert view is not None and frames is not None
        if board.brush is None:  # a brushed range keeps its own cards and grid
            # The grid first: whoever sees the new count on the cards finds its rows listed.
            board.recent.add_live_rows(shown.client, view.extended, found.ids)
            board.kpi_panel.show(view.overview(), shown.previous)
        activity = view.activity(frames[0], found.buckets)
        over_time = view.costs_over_time(frames[1], found)
        self._frames = (activity, over_time)
        board.activity.show(charts.activity(activity, view.bucket))
        board.cost_over_time.show(charts.cost_over_time(over_time, view.bucket))
        if time.monotonic() - self._budgets_read >= BUDGETS_EVERY_SECONDS:
            board.budgets.display(budget_statuses(shown.client))
            self._budgets_read = time.monotonic()

    def _clock(self, board: Dashboard) -> str:
        now = board.analytics.now()
        return f"{now.astimezone(ZoneInfo(board.timezone)):%H:%M:%S}"

    def _say(self, board: Dashboard, text: str) -> None:
        self.status = text
        if not self._stop.is_set():
            board.controls.set_status(text, busy=False)

    # --- pausing while the kernel is busy -------------------------------------------------------

    def _watch_kernel(self) -> None:
        try:
            from IPython import get_ipython
        except ImportError:  # not in IPython: never paused
            return
        shell = get_ipython()
        if shell is None or self._shell is not None:
            return
        self._shell = shell
        shell.events.register("pre_run_cell", self._cell_started)
        shell.events.register("post_run_cell", self._cell_finished)

    def _unwatch_kernel(self) -> None:
        shell, self._shell = self._shell, None
        if shell is None:
            return
        for event, callback in (("pre_run_cell", self._cell_started),
                                ("post_run_cell", self._cell_finished)):  # fmt: skip
            with contextlib.suppress(ValueError):  # already unregistered
                shell.events.unregister(event, callback)
        self.paused = False

    def _cell_started(self, _info: object = None) -> None:
        self.paused = True
        self._relabel()

    def _cell_finished(self, _result: object = None) -> None:
        self.paused = False
        self._relabel()

    def _relabel(self) -> None:
        board = self._board()
        if board is not None and self.on:
            self._say(board, self.label())
