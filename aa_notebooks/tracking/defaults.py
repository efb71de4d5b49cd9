"""The process-wide default tracker: from AA_DATABASE_URL unless `configure` says otherwise."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy.engine import URL

from aa_notebooks.tracking.shutdown import flush_all
from aa_notebooks.tracking.tracker import Tracker

_default: Tracker | None = None
_lock = threading.Lock()


def get_tracker() -> Tracker:
    """The default tracker, made on first use from AA_DATABASE_URL (else the default SQLite)."""
    global _default
    with _lock:
        if _default is None:
            _default = Tracker()
        return _default


def configure(
    url: str | URL | None = None,
    *,
    check_budgets: bool = True,
    spool_dir: str | Path | None = None,
    batch_size: int = 2000,
    retry_interval_s: float = 2.0,
) -> Tracker:
    """Replace the default tracker (the previous one is flushed and closed); returns it."""
    global _default
    tracker = Tracker(
        url,
        check_budgets=check_budgets,
        spool_dir=spool_dir,
        batch_size=batch_size,
        retry_interval_s=retry_interval_s,
    )
    with _lock:
        previous, _default = _default, tracker
    if previous is not None:
        previous.close()
    return tracker


def flush(timeout: float | None = None) -> bool:
    """Wait until every execution recorded in this process (by any tracker, or spooled by the
    recording functions) is in the database or the spool."""
    return flush_all(timeout)
