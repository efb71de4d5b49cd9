"""The users(id) rows the kit adds in its own database, for the foreign keys of what it records.

The kit's own database holds users only as these stubs; an attached AgentOS database owns its
users table, so there an unknown user stays unknown and the foreign key refuses what names it.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Collection

from sqlalchemy import Connection, Engine, inspect, select
from sqlalchemy.dialects import postgresql, sqlite

from aa_notebooks.db.schema import KitMetadata, User, table_of
from aa_notebooks.db.stored_uuid import id_chunks

USERS = table_of(User)
_kit_databases: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()


def add_missing_users(connection: Connection, user_ids: Collection[uuid.UUID]) -> None:
    """In the kit's own database, add the users(id) rows missing for `user_ids` (a user stored
    in either text form on SQLite counts as present); elsewhere nothing."""
    if not user_ids or not is_kit_database(connection):
        return
    known = {
        found
        for chunk in id_chunks(user_ids)  # each compared in every form (`StoredUuid`)
        for found in connection.scalars(select(USERS.c.id).where(USERS.c.id.in_(chunk)))
    }
    if missing := set(user_ids) - known:
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        adding = dialect.insert(USERS).on_conflict_do_nothing()  # another writer may add it too
        connection.execute(adding, [{"id": user} for user in sorted(missing)])


def is_kit_database(connection: Connection) -> bool:
    """Whether the database is the kit's own (made by `init-db`), read once per engine: a file
    made again at the same path is looked at again once its engine is disposed, and `init_db`
    forgets the answer (`forget_owner`)."""
    engine = connection.engine
    found = _kit_databases.get(engine)
    if found is None:
        found = _kit_databases[engine] = inspect(connection).has_table(KitMetadata.__tablename__)
    return found


def forget_owner(engine: Engine) -> None:
    """Look again next time whether the database is the kit's (after `init-db` made it so)."""
    _kit_databases.pop(engine, None)
