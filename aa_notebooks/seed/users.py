"""The demo users, inserted once: their ids are stable, so a later seed finds them in place."""

from __future__ import annotations

from sqlalchemy import Connection, select

from aa_notebooks.db.schema import User, table_of
from aa_notebooks.seed.catalog import USERS


def write_users(connection: Connection) -> int:
    """Insert the demo users the database lacks; returns how many demo users it holds."""
    table = table_of(User)
    ids = [user.id for user in USERS]
    present = set(connection.execute(select(table.c.id).where(table.c.id.in_(ids))).scalars())
    missing = [
        {"id": user.id, "username": user.username, "email": user.email}
        for user in USERS
        if user.id not in present
    ]
    if missing:
        connection.execute(table.insert(), missing)
    return len(USERS)
