"""Whether a database has rollups: their tables exist (looked up once per engine)."""

from __future__ import annotations

import weakref

from sqlalchemy import Connection, Engine, inspect

from aa_notebooks.db.schema import ROLLUP_TABLES

_present: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()


def has_rollups(bind: Connection | Engine) -> bool:
    """Whether every rollup table exists here (the kit's database after `init-db`, or an attached
    one after `aa-notebooks rollups enable`). Tables are created filled, in one transaction."""
    engine = bind.engine
    found = _present.get(engine)
    if found is None:
        found = _present[engine] = set(ROLLUP_TABLES) <= set(inspect(bind).get_table_names())
    return found


def forget(engine: Engine) -> None:
    """Look the tables up again next time (after `rollups enable` created them)."""
    _present.pop(engine, None)
