"""Which database errors mean "unreachable for now" (keep the records and retry) rather than
"this record is refused" (set it aside)."""

from __future__ import annotations

from sqlalchemy import exc as sa

from aa_notebooks.errors import DatabaseUnavailableError

_OUTAGES = (
    DatabaseUnavailableError,
    sa.OperationalError,  # server gone, connection refused, SQLite locked or unopenable
    sa.InterfaceError,
    sa.ProgrammingError,  # tables not created yet: they may be by the next retry
    sa.DisconnectionError,
    sa.TimeoutError,  # no pooled connection came free
)


def is_outage(error: BaseException) -> bool:
    """True when the database could not be used at all, so the same write may work later."""
    if isinstance(error, sa.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, _OUTAGES)
