"""Values for columns an attached database lacks: left out of its rows, and said once.

A database made by the data contract's DDL lacks the kit's additions (a usage row's price
provenance, an execution's flow); an agent records many rows, so each column is named once per
database and process, not at every batch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import Connection

log = logging.getLogger(__name__)
_said: set[tuple[str, str, str]] = set()


def say_not_stored(connection: Connection, table: str, columns: Iterable[str]) -> None:
    """Warn that values of `columns` are not stored, naming each column once per database and
    table."""
    where = connection.engine.url.render_as_string(hide_password=True)
    if new := sorted({name for name in columns if (where, table, name) not in _said}):
        _said.update((where, table, name) for name in new)
        columns_named = ", ".join(new)
        log.warning(
            "%s has no column %s: those values are not stored (the data contract's table lacks "
            "what the kit adds)", table, columns_named,
        )  # fmt: skip
