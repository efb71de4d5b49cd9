"""Values for columns an attached database lacks: left out of its rows, and said once.

A database made by the data contract's DDL lacks the kit's additions (a usage row's price
provenance, an execution's flow); an agent records many rows, so each database's table's lost
columns are named once per process, not at every batch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import Connection

log = logging.getLogger(__name__)
_said: set[tuple[str, str, tuple[str, ...]]] = set()


def say_not_stored(connection: Connection, table: str, columns: Iterable[str]) -> None:
    """Warn, once per database, table and set of columns, that values of `columns` are not
    stored."""
    lost = tuple(sorted(columns))
    said = (connection.engine.url.render_as_string(hide_password=True), table, lost)
    if lost and said not in _said:
        _said.add(said)
        log.warning("%s has no column %s: those values are not stored", table, list(lost))
