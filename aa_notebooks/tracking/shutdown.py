"""Flush recording when the process is told to stop (SIGTERM, SIGINT), as it is at exit.

The handlers are installed once, from the main thread (Python allows no other), over whatever
the host had: they flush every live writer, then hand the signal on. When what comes next ends
the process at once (the default SIGTERM action), the runs still going are first recorded as cut
off, since no `with` block will end them. Otherwise (SIGINT's KeyboardInterrupt, or the host's
own handler) the blocks unwind and record themselves, and the host decides what happens. A signal
the host ignores is left ignored, and a handler the host installs later replaces these: then the
writers still flush at exit.
"""

from __future__ import annotations

import logging
import signal
import threading
import weakref
from collections.abc import Callable
from types import FrameType
from typing import Any, Protocol

WATCHED = (signal.SIGTERM, signal.SIGINT)
FLUSH_TIMEOUT_S = 10.0
"""How long a signal waits for the writers before it is handed on."""

_lock = threading.Lock()
_installed = False
_warned = False
log = logging.getLogger(__name__)


class Flushable(Protocol):
    """What a writer offers to a stopping process."""

    def stopping(self, cut_off: str | None, timeout: float) -> None: ...

    def flush(self, timeout: float | None = None) -> bool: ...


_writers: weakref.WeakSet[Any] = weakref.WeakSet()


def watch(writer: Flushable) -> None:
    """Flush `writer` when the process is signalled to stop; installs the handlers once (from
    the main thread: elsewhere it says once how to install them)."""
    global _warned
    _writers.add(writer)
    if threading.current_thread() is threading.main_thread():
        install()
        return
    with _lock:
        if _installed or _warned:
            return
        _warned = True
    log.warning(
        "aa-notebooks: recording started outside the main thread, where Python allows no signal "
        "handler: SIGTERM and SIGINT will not flush it (the next process recovers its runs from "
        "the journal). Call aa_notebooks.tracking.flush_on_signals() from the main thread at "
        "startup."
    )


def install() -> None:
    """Install the handlers that flush every writer on SIGTERM and SIGINT, once; call it from
    the main thread (a writer started there installs them itself)."""
    global _installed
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("signal handlers can only be installed from the main thread")
    with _lock:
        if _installed:
            return
        _installed = True
    for signum in WATCHED:
        previous = signal.getsignal(signum)
        if previous in (signal.SIG_IGN, None):  # ignored by the host, or set outside Python
            continue
        signal.signal(signum, _handler(previous))


def _handler(previous: Callable[[int, FrameType | None], Any] | int) -> Callable[..., Any]:
    def on_signal(signum: int, frame: FrameType | None) -> Any:
        ends_now = previous == signal.SIG_DFL
        name = signal.Signals(signum).name
        cut_off = f"the process was stopped by {name} while the run was going" if ends_now else None
        for writer in list(_writers):
            writer.stopping(cut_off, FLUSH_TIMEOUT_S)
        if ends_now:  # the budget alerts the flush made due go out before the process ends
            from aa_notebooks.budgets.delivery import wait_for_deliveries

            wait_for_deliveries(FLUSH_TIMEOUT_S)
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
            return None
        return previous(signum, frame) if callable(previous) else None  # SIG_IGN is not wrapped

    return on_signal


def flush_all(timeout: float | None = None) -> bool:
    """Flush every live writer of the process (trackers' and the recording functions')."""
    return all([writer.flush(timeout) for writer in list(_writers)])
