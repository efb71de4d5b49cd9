"""Whether a database has rollups: their tables and columns exist (looked up once per engine)."""

from __future__ import annotations

import weakref

from sqlalchemy import Connection, Engine, inspect

from aa_notebooks.db.schema import ROLLUP_TABLES, Base

_present: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()


def has_rollups(bind: Connection | Engine) -> bool:
    """Whether every rollup table exists here with every column of this release (the kit's
    database after `init-db`, or an attached one after `aa-notebooks rollups enable`). Tables
    and columns are created filled, in one transaction."""
    engine = bind.engine
    found = _present.get(engine)
    if found is None:
        found = _present[engine] = _complete(bind)
    return found


def _complete(bind: Connection | Engine) -> bool:
    inspector = inspect(bind)
    if not set(ROLLUP_TABLES) <= set(inspector.get_table_names()):
        return False
    return all(
        set(Base.metadata.tables[name].c.keys())
        <= {column["name"] for column in inspector.get_columns(name)}
        for name in ROLLUP_TABLES
    )


def forget(engine: Engine) -> None:
    """Look the tables up again next time (after `rollups enable` created them)."""
    _present.pop(engine, None)
