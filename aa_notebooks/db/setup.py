"""`init_db`: create the kit's tables in its own database, never touching an AgentOS one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event, inspect, select
from sqlalchemy.engine import URL

from aa_notebooks.db import budget_generation
from aa_notebooks.db.engine import connection_errors, get_engine
from aa_notebooks.db.migrations import mark_all_applied, migrate, schema_transaction
from aa_notebooks.db.rollups.format import record_format, stored_format
from aa_notebooks.db.rollups.setup import on_create
from aa_notebooks.db.rollups.state import forget
from aa_notebooks.db.rollups.triggers import WRITER_VERSION
from aa_notebooks.db.schema import DOCUMENT_TABLES, Base, KitMetadata, table_of
from aa_notebooks.db.url import mask_url
from aa_notebooks.db.users import forget_owner

SCHEMA_VERSION = "1"
# The rollup tables get their triggers, and their rows from any executions already there, in the
# transaction that creates them.
event.listen(Base.metadata, "after_create", on_create)
# The budget generation's counter row and triggers, likewise.
event.listen(Base.metadata, "after_create", budget_generation.on_create)


@dataclass(frozen=True)
class InitReport:
    """What `init_db` did: the tables it created, or why it left the database alone."""

    url: str
    created_tables: list[str] = field(default_factory=list)
    foreign_database: bool = False
    migrations: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        if self.foreign_database:
            return (
                f"{self.url} already holds the AgentOS tables and was not created by "
                "aa-notebooks: left unchanged (run `aa-notebooks check-db` to see what works)"
            )
        done = []
        if self.created_tables:
            done.append(f"created tables {', '.join(self.created_tables)}")
        if self.migrations:
            done.append(f"applied migrations {', '.join(self.migrations)}")
        return f"{' and '.join(done)} in {self.url}" if done else f"{self.url} is up to date"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython shows the plain-words report, not the dataclass fields."""
        printer.text(str(self))


def init_db(url: str | URL | None = None) -> InitReport:
    """Create the missing tables (and PostgreSQL enum types) in the kit's own database, and
    bring one made by an earlier release up to date (`migrations`).

    A database that holds the data contract's tables without the kit's marker table belongs to
    AgentOS: it is reported and never altered.
    """
    engine = get_engine(url)
    shown = mask_url(engine.url)
    with connection_errors(engine.url):
        existing = set(inspect(engine).get_table_names())
        ours = KitMetadata.__tablename__ in existing
        if not ours and existing & set(DOCUMENT_TABLES):
            return InitReport(url=shown, foreign_database=True)
        missing = [t.name for t in Base.metadata.sorted_tables if t.name not in existing]
        if missing:  # tables and their first fill commit together
            with schema_transaction(engine) as connection:
                existing = set(inspect(connection).get_table_names())  # another init's, maybe
                missing = [name for name in missing if name not in existing]
                Base.metadata.create_all(connection, checkfirst=True)
        if ours:
            applied = migrate(engine)
        else:
            applied = []
            mark_all_applied(engine)
        _write_schema_version(engine)
    forget(engine)  # the tables or columns may be new: this process looks again
    forget_owner(engine)
    return InitReport(url=shown, created_tables=missing, migrations=applied)


def _write_schema_version(engine: Engine) -> None:
    """The schema version, and the rollup format (`rollups.format`), when not recorded yet."""
    table = table_of(KitMetadata)
    query = select(table.c.value).where(table.c.key == "schema_version")
    with engine.connect() as connection:
        current = (
            connection.execute(query).first() is not None
            and (stored_format(connection) or 0) >= WRITER_VERSION
        )
    if current:
        return
    with schema_transaction(engine) as connection:
        if connection.execute(query).first() is None:
            connection.execute(table.insert().values(key="schema_version", value=SCHEMA_VERSION))
        record_format(connection)
