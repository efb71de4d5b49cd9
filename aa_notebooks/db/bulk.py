"""Bulk inserts: many rows per round trip, in chunks, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Table

CHUNK_ROWS = 5_000


def bulk_insert_rows(
    connection: Connection, table: Table, rows: Iterable[Mapping[str, Any]]
) -> int:
    """Insert `rows` (dicts keyed by column name) into `table`; returns the number inserted."""
    iterator = iter(rows)
    total = 0
    while chunk := list(islice(iterator, CHUNK_ROWS)):
        connection.execute(table.insert(), chunk)
        total += len(chunk)
    return total
