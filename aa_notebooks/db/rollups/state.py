"""Whether a database has rollups: their tables and columns exist (looked up once per engine;
a "no" again after RECHECK_SECONDS, as another process may migrate or enable them)."""

from __future__ import annotations

import time
import weakref

from sqlalchemy import Connection, Engine, inspect

from aa_notebooks.db.schema import ROLLUP_TABLES, Base

RECHECK_SECONDS = 60.0
"""How long a process trusts that a database has no (complete) rollups before looking again."""
_present: weakref.WeakKeyDictionary[Engine, tuple[bool, float]] = weakref.WeakKeyDictionary()
_clock = time.monotonic


def has_rollups(bind: Connection | Engine) -> bool:
    """Whether every rollup table exists here with every column of this release (the kit's
    database after `init-db`, or an attached one after `aa-notebooks rollups enable`). Tables
    and columns are created filled, in one transaction, so a "yes" stays true; a "no" is looked
    up again after RECHECK_SECONDS (a writer started before `init-db` migrated the database
    starts adding to the rollups within a minute)."""
    engine = bind.engine
    found = _present.get(engine)
    if found is None or (not found[0] and _clock() - found[1] > RECHECK_SECONDS):
        found = _present[engine] = (_complete(bind), _clock())
    return found[0]


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
    """Look the tables up again next time (after `rollups enable` or `init-db` made them)."""
    _present.pop(engine, None)
