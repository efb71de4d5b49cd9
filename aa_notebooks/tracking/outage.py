"""Which database errors mean "unreachable for now" (keep the records and retry) rather than
"this record is refused" (set it aside), and the one warning an outage is worth."""

from __future__ import annotations

import logging
import sqlite3
import threading

from sqlalchemy import exc as sa

from aa_notebooks.errors import DatabaseUnavailableError, first_line

log = logging.getLogger("aa_notebooks.tracking")

_OUTAGES: tuple[type[BaseException], ...] = (
    DatabaseUnavailableError,
    sa.OperationalError,  # server gone, connection refused, SQLite locked or unopenable
    sa.InterfaceError,
    sa.ProgrammingError,  # tables not created yet: they may be by the next retry
    sa.DisconnectionError,
    sa.TimeoutError,  # no pooled connection came free
    sqlite3.OperationalError,  # raw driver errors: a pool's connect does not wrap them
    sqlite3.InterfaceError,
    ConnectionError,  # sockets reset or refused under the driver
    TimeoutError,
)
try:
    import psycopg

    _OUTAGES += (psycopg.OperationalError, psycopg.InterfaceError)
except ImportError:  # no PostgreSQL driver: no PostgreSQL outage either
    pass


def is_outage(error: BaseException) -> bool:
    """True when the database could not be used at all, so the same write may work later.

    The error's causes count too (`raise ... from`, SQLAlchemy's `.orig`): a driver error comes
    raw from a pool's connect and wrapped from a statement, and means the same either way.
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, sa.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, _OUTAGES):
            return True
        orig = getattr(current, "orig", None)
        pending.append(current.__cause__)
        if isinstance(orig, BaseException):
            pending.append(orig)
    return False


class OutageNotice:
    """Logs one warning when a database becomes unreachable and one line when it is back,
    however many runs and batches meet the outage in between (thread-safe)."""

    def __init__(self, shown_url: str) -> None:
        self.shown_url = shown_url
        self._down = False
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        """Whether the database was unreachable when last used."""
        return self._down

    def went_down(self, error: BaseException, consequence: str) -> None:
        """Note an outage; the first since the database was last reachable logs a warning."""
        with self._lock:
            if self._down:
                return
            self._down = True
        log.warning(
            "database %s unreachable (%s); %s",
            self.shown_url,
            first_line(error, type(error).__name__),
            consequence,
        )

    def came_back(self) -> None:
        """Note that the database answered again (logged once, when it had been down)."""
        if not self._down:
            return
        with self._lock:
            if not self._down:
                return
            self._down = False
        log.info("database %s reachable again", self.shown_url)


_notices: dict[str, OutageNotice] = {}
_notices_lock = threading.Lock()


def notice_for(shown_url: str) -> OutageNotice:
    """The process's notice for one database (by its masked URL): every tracker, writer and
    recording function of the process shares it, so an outage is one warning."""
    with _notices_lock:
        notice = _notices.get(shown_url)
        if notice is None:
            notice = _notices[shown_url] = OutageNotice(shown_url)
        return notice
