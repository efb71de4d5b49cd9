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


_REFUSED_WRITE_STATES = frozenset(("42501", "25006"))
"""PostgreSQL: insufficient_privilege, read_only_sql_transaction."""


def is_outage(error: BaseException) -> bool:
    """True when the database could not be used at all, or refuses every write (a role without
    the grant, a read-only database or file), so the same write may work later.

    The error's causes count too (`raise ... from`, SQLAlchemy's `.orig`): a driver error comes
    raw from a pool's connect and wrapped from a statement, and means the same either way.
    """
    return any(
        (isinstance(cause, sa.DBAPIError) and cause.connection_invalidated)
        or isinstance(cause, _OUTAGES)
        or _refuses_writes(cause)
        for cause in _causes(error)
    )


def refuses_writes(error: BaseException) -> bool:
    """True when the database refused the write itself, not one record: it can still be read
    (and a hard stop checked), and the records wait until the role may write."""
    return any(_refuses_writes(cause) for cause in _causes(error))


def _refuses_writes(error: BaseException) -> bool:
    if getattr(error, "sqlstate", None) in _REFUSED_WRITE_STATES:
        return True
    return isinstance(error, sqlite3.OperationalError) and "readonly database" in str(error)


def _causes(error: BaseException) -> list[BaseException]:
    """The error, its `__cause__`s and SQLAlchemy `.orig`s, each once."""
    found: list[BaseException] = []
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        found.append(current)
        pending.append(current.__cause__)
        orig = getattr(current, "orig", None)
        if isinstance(orig, BaseException):
            pending.append(orig)
    return found


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
        state = "refuses this role" if refuses_writes(error) else "unreachable"
        log.warning(
            "database %s %s (%s); %s",
            self.shown_url,
            state,
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
