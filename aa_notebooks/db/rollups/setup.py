"""Creating the rollups: in the kit's own database with its tables, elsewhere on request.

`create_all` (init-db) makes the rollup tables; `on_create` then installs the marking triggers
and, in a database that already holds executions (one made by an earlier release), fills them
from the raw rows in the same transaction, so the tables are never seen empty beside data.
`enable_rollups` does the same in an attached (AgentOS) database.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, Engine, select

from aa_notebooks.db.migrations import add_column
from aa_notebooks.db.rollups.rebuild import (
    RebuildReport,
    fill_cache_rollups,
    fill_total_rollups,
    rebuild_in,
)
from aa_notebooks.db.rollups.record import EXECUTIONS, LATENCY_SUMS
from aa_notebooks.db.rollups.state import forget, has_rollups
from aa_notebooks.db.rollups.triggers import install_triggers
from aa_notebooks.db.schema import (
    CACHE_ROLLUP_TABLES,
    LATENCY_ROLLUP_TABLES,
    ROLLUP_TABLES,
    TOTAL_ROLLUP_TABLES,
    Base,
)


def on_create(target: Any, connection: Connection, tables: Any = (), **_: Any) -> None:
    """After create_all: triggers and a first fill when the rollup tables were just made."""
    created = {table.name for table in tables or ()}
    if not created & set(ROLLUP_TABLES):
        return
    install_triggers(connection)
    if connection.execute(select(EXECUTIONS.c.id).limit(1)).first() is None:
        return
    new = created & set(ROLLUP_TABLES)
    if not new <= {*CACHE_ROLLUP_TABLES, *TOTAL_ROLLUP_TABLES}:
        rebuild_in(connection)
        return
    if new & set(CACHE_ROLLUP_TABLES):  # only they (and the totals) are new: the rest is current
        fill_cache_rollups(connection)
    if new & set(TOTAL_ROLLUP_TABLES):
        fill_total_rollups(connection)


def add_latency_sums(connection: Connection) -> None:
    """Add the sums columns to the (existing) latency rollup tables where an earlier release
    made them without (they need filling: `rebuild.fill_latency_sums`, or a rebuild). NOT NULL
    DEFAULT 0: a row an earlier release's writer inserts still adds up later increments (its
    own are missing until a rebuild)."""
    for name in LATENCY_ROLLUP_TABLES:
        for column in LATENCY_SUMS:
            add_column(connection, name, column, default=0)


def enable_rollups(engine: Engine) -> RebuildReport:
    """Create and fill the rollup tables (and the marking triggers) in a database the kit did
    not create; safe to run again."""
    rollups = [Base.metadata.tables[name] for name in ROLLUP_TABLES]
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        for table in rollups:
            table.create(connection, checkfirst=True)
        add_latency_sums(connection)
        install_triggers(connection)
        report = rebuild_in(connection)
    forget(engine)
    has_rollups(engine)
    return replace(report, enabled=True)
