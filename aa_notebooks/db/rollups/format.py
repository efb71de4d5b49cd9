"""Which release's rollups a database holds: a newer one's are not rebuilt by an older kit.

`init_db` records the rollup format of the release that set the database up or migrated it
(`WRITER_VERSION`, in aa_notebooks_meta; a later release raises it, an earlier one never lowers
it). A `rollups rebuild` of an older release on a host not yet upgraded would recompute only the
rollups it knows, clear the marked hours, and leave the newer ones stale and trusted: it is
refused instead, with what to do.
"""

from __future__ import annotations

from sqlalchemy import Connection, inspect, select, update

from aa_notebooks.db.rollups.triggers import WRITER_VERSION
from aa_notebooks.db.schema import KitMetadata, table_of
from aa_notebooks.errors import ConfigurationError

FORMAT_KEY = "rollup_format"
_META = table_of(KitMetadata)


def stored_format(connection: Connection) -> int | None:
    """The rollup format the database records (None: none recorded, or not a kit database)."""
    if not inspect(connection).has_table(_META.name):
        return None
    value = connection.execute(select(_META.c.value).where(_META.c.key == FORMAT_KEY)).scalar()
    return int(value) if value is not None and str(value).isdigit() else None


def record_format(connection: Connection) -> None:
    """Record this release's format unless a newer one is recorded (in a schema transaction)."""
    found = stored_format(connection)
    if found is None:
        connection.execute(_META.insert().values(key=FORMAT_KEY, value=str(WRITER_VERSION)))
    elif found < WRITER_VERSION:
        statement = update(_META).where(_META.c.key == FORMAT_KEY)
        connection.execute(statement.values(value=str(WRITER_VERSION)))


def refuse_newer_format(connection: Connection) -> None:
    """ConfigurationError when a newer release set the database's rollups up."""
    found = stored_format(connection)
    if found is not None and found > WRITER_VERSION:
        raise ConfigurationError(
            f"this database's rollups are of a newer aa-notebooks (rollup format {found}; this "
            f"one knows {WRITER_VERSION}): a rebuild from here would leave the newer rollups "
            "wrong. Upgrade aa-notebooks on this host, or run the rebuild where it is upgraded"
        )
