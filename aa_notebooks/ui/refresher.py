"""Coalescing background refresh: one run at a time, and changes made meanwhile become one more run.

Widget callbacks only `request` a refresh and return, so the kernel stays free while queries run.
A request that arrives during a run is merged into a single follow-up run, which reads the
settings as they are when it starts: the latest ones. Two runs never overlap.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

Work = Callable[[frozenset[str]], None]


class Refresher:
    """Runs `work(parts)` in a worker thread; `parts` names what to reload (merged while busy)."""

    def __init__(
        self,
        work: Work,
        on_busy: Callable[[bool], None],
        on_error: Callable[[Exception], None],
    ) -> None:
        self._work = work
        self._on_busy = on_busy
        self._on_error = on_error
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._pending: set[str] = set()
        self._worker: threading.Thread | None = None
        self.runs = 0
        """How many runs have finished (each covers every request merged into it)."""

    @property
    def busy(self) -> bool:
        """Whether a run is going on or about to start."""
        return not self._idle.is_set()

    def request(self, parts: Iterable[str]) -> None:
        """Ask for a run reloading `parts`; starts one now, or merges into the next."""
        with self._lock:
            self._pending.update(parts)
            if self._worker is not None:
                return
            self._idle.clear()
            self._on_busy(True)
            self._worker = threading.Thread(target=self._loop, name="aa-dashboard-refresh")
            self._worker.daemon = True
            self._worker.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no run is going on or pending (not from inside `work`); False on timeout."""
        if threading.current_thread() is self._worker:
            return False
        return self._idle.wait(timeout)

    def _loop(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    self._worker = None
                    self._on_busy(False)
                    self._idle.set()
                    return
                parts, self._pending = frozenset(self._pending), set()
            try:
                self._work(parts)
            except Exception as exc:  # shown by on_error; the loop must go on to stay usable
                self._on_error(exc)
            self.runs += 1
