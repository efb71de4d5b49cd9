"""Named, forward-only migrations of the kit's own databases.

A new database gets the current schema from the models (`init_db`) and every migration is
recorded as applied without running. A database made by an earlier release gets the migrations
it lacks, in order, each in its own transaction and recorded in `aa_notebooks_migrations`, so a
crash between two leaves a database that the next `init_db` finishes. Processes that migrate at
the same moment take turns (`schema_transaction`). A database the kit did not
create (GenAI AgentOS) is never migrated.

A migration is a function of a connection, registered with `@migration`, written so that running
it on a database that already has its change does nothing (`add_column` checks first): the
models are the truth, and a migration only brings an older database up to them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    inspect,
    select,
)
from sqlalchemy.schema import CreateIndex, DropIndex

from aa_notebooks.db.schema import Base

MIGRATIONS_TABLE = Table(
    "aa_notebooks_migrations",
    MetaData(),
    Column("name", String(128), primary_key=True),
    Column("applied_at", DateTime, nullable=False),
)


@dataclass(frozen=True)
class Migration:
    """One named change to the kit's schema."""

    name: str
    apply: Callable[[Connection], None]


MIGRATIONS: list[Migration] = []
"""Every migration, oldest first; names are never reused or reordered."""


def migration(apply: Callable[[Connection], None]) -> Callable[[Connection], None]:
    """Register `apply` as the next migration, named after the function."""
    if any(known.name == apply.__name__ for known in MIGRATIONS):
        raise ValueError(f"a migration named {apply.__name__} exists already")
    MIGRATIONS.append(Migration(apply.__name__, apply))
    return apply


def add_column(
    connection: Connection, table_name: str, column_name: str, *, default: int | None = None
) -> None:
    """Add a column of the models to an existing table, unless it is there already; with
    `default`, NOT NULL and that default for the rows already there."""
    present = {column["name"] for column in inspect(connection).get_columns(table_name)}
    if column_name in present:
        return
    column = Base.metadata.tables[table_name].c[column_name]
    kind = column.type.compile(dialect=connection.dialect)
    if default is not None:
        kind += f" NOT NULL DEFAULT {int(default)}"
    quote = connection.dialect.identifier_preparer.quote
    connection.exec_driver_sql(
        f"ALTER TABLE {quote(table_name)} ADD COLUMN {quote(column_name)} {kind}"
    )


def add_index(connection: Connection, table_name: str, index_name: str) -> None:
    """Create an index of the models on an existing table, or rebuild it when the table has an
    index of that name on other columns (an index the models widened)."""
    [index] = [i for i in Base.metadata.tables[table_name].indexes if i.name == index_name]
    wanted = [column.name for column in index.columns]
    present = {i["name"]: i["column_names"] for i in inspect(connection).get_indexes(table_name)}
    if present.get(index_name) == wanted:
        return
    if index_name in present:
        connection.execute(DropIndex(index))
    connection.execute(CreateIndex(index))


def mark_all_applied(engine: Engine) -> None:
    """Record every migration as applied (a database created with the current schema)."""
    with schema_transaction(engine) as connection:
        MIGRATIONS_TABLE.create(connection, checkfirst=True)
        applied = _applied(connection)
        now = datetime.now(UTC).replace(tzinfo=None)
        for step in MIGRATIONS:
            if step.name not in applied:
                connection.execute(MIGRATIONS_TABLE.insert().values(name=step.name, applied_at=now))


def migrate(engine: Engine) -> list[str]:
    """Apply the migrations this database lacks, each in its own `schema_transaction`; returns
    the names this call applied (not those another process applied meanwhile)."""
    with engine.connect() as connection:  # up to date: reads only, no waiting for a lock
        known = inspect(connection).has_table(MIGRATIONS_TABLE.name)
        applied = _applied(connection) if known else set()
    pending = [step for step in MIGRATIONS if step.name not in applied]
    if not pending:
        return []
    if not known:
        with schema_transaction(engine) as connection:
            MIGRATIONS_TABLE.create(connection, checkfirst=True)
    done = []
    for step in pending:
        with schema_transaction(engine) as connection:
            if step.name in _applied(connection):  # another process applied it while we waited
                continue
            step.apply(connection)
            now = datetime.now(UTC).replace(tzinfo=None)
            connection.execute(MIGRATIONS_TABLE.insert().values(name=step.name, applied_at=now))
        done.append(step.name)
    return done


@contextmanager
def schema_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that changes the kit's schema, one process at a time: SQLite's write lock
    (BEGIN IMMEDIATE; its driver would otherwise commit ALTER TABLE at once), PostgreSQL's
    transaction advisory lock. Read what to change after it is held: processes that start
    together on an older database (two agents, two `init-db`) then take turns, and the second
    finds the first one's work done instead of failing on it."""
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        yield connection


SCHEMA_LOCK = 0x6161_6E6F_7465_6462
"""The advisory lock key of `schema_transaction` on PostgreSQL ("aanotedb")."""


def _applied(connection: Connection) -> set[str]:
    return set(connection.execute(select(MIGRATIONS_TABLE.c.name)).scalars())


# The migrations, oldest first. Each brings a database of an earlier release up to the models.


@migration
def cost_by_model_indexes(connection: Connection) -> None:
    """Cost by model joins the window's executions to their usage rows: both sides read from
    covering indexes (the usage index gained model, cost and tokens)."""
    add_index(connection, "agentexecutions", "ix_agentexecutions_started_at_id")
    add_index(connection, "tokenusages", "ix_tokenusages_execution_id")


@migration
def executions_grid_sort_indexes(connection: Connection) -> None:
    """The executions grid reads pages sorted by cost, duration or tokens through an index on
    (column, id, started_at) instead of sorting the whole window."""
    for column in ("cost_usd", "execution_time_ms", "total_tokens"):
        add_index(connection, "agentexecutions", f"ix_agentexecutions_{column}_id")


@migration
def otel_nesting_and_cache_tokens(connection: Connection) -> None:
    """Ingested traces nest their steps (parent step, depth) and keep prompt-cache tokens."""
    add_column(connection, "executiontraces", "parent_step")
    add_column(connection, "executiontraces", "depth")
    add_column(connection, "tokenusages", "cache_read_tokens")
    add_column(connection, "tokenusages", "cache_write_tokens")


@migration
def rollup_tables(connection: Connection) -> None:
    """Hourly and daily rollups of the executions and of cost by model's usage rows, filled from
    the rows already there, with the triggers that mark hours changed behind them."""
    from aa_notebooks.db.rollups.rebuild import rebuild_in
    from aa_notebooks.db.rollups.triggers import install_triggers
    from aa_notebooks.db.schema import ROLLUP_TABLES

    present = set(inspect(connection).get_table_names())
    for name in ROLLUP_TABLES:
        Base.metadata.tables[name].create(connection, checkfirst=True)
    install_triggers(connection)
    if not set(ROLLUP_TABLES) <= present:
        rebuild_in(connection)


@migration
def completed_at_index(connection: Connection) -> None:
    """`tail` reads the executions completed after a (completed_at, id) mark through an index
    instead of scanning the table on every poll."""
    add_index(connection, "agentexecutions", "ix_agentexecutions_completed_at_id")


@migration
def running_executions(connection: Connection) -> None:
    """Runs in flight are marked, with a heartbeat, in a table of their own."""
    Base.metadata.tables["runningexecutions"].create(connection, checkfirst=True)


@migration
def alert_webhook_delivery(connection: Connection) -> None:
    """Budget alerts are posted to webhooks too, tracked apart from the email; the alerts fired
    before count as posted, so that a webhook configured now does not receive the old ones."""
    add_column(connection, "budgetalertevents", "webhook_notified")
    connection.exec_driver_sql(
        "UPDATE budgetalertevents SET webhook_notified = true WHERE webhook_notified IS NULL"
    )


@migration
def reasoning_tokens(connection: Connection) -> None:
    """Token usage keeps the reasoning tokens a call reported (part of its output tokens)."""
    add_column(connection, "tokenusages", "reasoning_tokens")


@migration
def anomaly_alerts(connection: Connection) -> None:
    """Anomaly alerts remember what they sent, so a scheduled run sends each anomaly once."""
    Base.metadata.tables["anomalyalertssent"].create(connection, checkfirst=True)


@migration
def budget_alert_levels(connection: Connection) -> None:
    """A budget may warn at several levels (50/80/100%); each event records the level it is
    about, so that each level fires once per window."""
    add_column(connection, "budgetalerts", "alert_levels")
    add_column(connection, "budgetalertevents", "level_pct")


@migration
def usage_price_provenance(connection: Connection) -> None:
    """Token usage records which price (table version, effective date) costed each row."""
    add_column(connection, "tokenusages", "price_source")
    add_column(connection, "tokenusages", "price_date")


@migration
def per_user_budgets(connection: Connection) -> None:
    """A budget may apply to every user separately; its events say which user's spend fired."""
    add_column(connection, "budgetalerts", "per_user")
    add_column(connection, "budgetalertevents", "user_id")


@migration
def latency_rollups(connection: Connection) -> None:
    """Latency sketches per (user, agent, model) and hour or day, so percentiles merge a few rows
    per bucket; filled (with every rollup, from the raw rows) where they were missing."""
    from aa_notebooks.db.rollups.rebuild import rebuild_in
    from aa_notebooks.db.schema import LATENCY_ROLLUP_TABLES

    present = set(inspect(connection).get_table_names())
    for name in LATENCY_ROLLUP_TABLES:
        Base.metadata.tables[name].create(connection, checkfirst=True)
    if not set(LATENCY_ROLLUP_TABLES) <= present:
        rebuild_in(connection)


@migration
def budget_generation(connection: Connection) -> None:
    """A counter of budget definition changes, bumped by triggers on budgetalerts, so the
    hard-stop check keeps the budgets in memory until it moves."""
    from aa_notebooks.db.budget_generation import GENERATION_TABLE, install_generation

    Base.metadata.tables[GENERATION_TABLE].create(connection, checkfirst=True)
    install_generation(connection)


@migration
def cache_rollups(connection: Connection) -> None:
    """Input and prompt-cache tokens per (user, model) and hour or day, so the cache figures of a
    big window read the rollups; filled from the raw rows where they were missing."""
    from aa_notebooks.db.rollups.rebuild import fill_cache_rollups
    from aa_notebooks.db.schema import CACHE_ROLLUP_TABLES

    present = set(inspect(connection).get_table_names())
    for name in CACHE_ROLLUP_TABLES:
        Base.metadata.tables[name].create(connection, checkfirst=True)
    if not set(CACHE_ROLLUP_TABLES) <= present:
        fill_cache_rollups(connection)


@migration
def latency_rollup_sums(connection: Connection) -> None:
    """The latency rollups hold the (user, agent, model) sums too, so the dashboard reads a
    fifth of the execution rollups' rows; filled from the execution rollups (always: the fill is
    idempotent). The tables are there: `latency_rollups` or `create_all` made them."""
    from aa_notebooks.db.rollups.rebuild import fill_latency_sums
    from aa_notebooks.db.rollups.setup import add_latency_sums

    add_latency_sums(connection)
    fill_latency_sums(connection)


@migration
def rollup_truncate_triggers(connection: Connection) -> None:
    """PostgreSQL: a TRUNCATE of the executions or usage rows empties the rollups they feed
    (the triggers are installed again, with the new ones)."""
    if connection.dialect.name == "postgresql":
        _install_triggers_again(connection)


@migration
def rollup_replace_triggers(connection: Connection) -> None:
    """SQLite: an INSERT OR REPLACE marks the hour of the row it replaces (the triggers are
    installed again, with the new ones)."""
    if connection.dialect.name == "sqlite":
        _install_triggers_again(connection)


@migration
def rollup_writer_version(connection: Connection) -> None:
    """The marking triggers let through only the inserts of a writer that declares this
    release's WRITER_VERSION: an earlier release's writer, still running beside this one, kept
    only the rollups it knew (installed again, with the new check, where the rollups are)."""
    _install_triggers_again(connection)


@migration
def trigger_search_path(connection: Connection) -> None:
    """PostgreSQL: the trigger functions find the kit's tables in their own schema, whatever
    the search_path of the program that writes (installed again, pinned to it)."""
    from aa_notebooks.db.budget_generation import GENERATION_TABLE, install_generation

    if connection.dialect.name != "postgresql":
        return
    _install_triggers_again(connection)
    if GENERATION_TABLE in inspect(connection).get_table_names():
        install_generation(connection)


@migration
def muted_alerts(connection: Connection) -> None:
    """An alert that fires while its budget's notifications are off is marked muted, and no
    channel sends it, then or once they are on again; the alerts fired before are not."""
    add_column(connection, "budgetalertevents", "muted")
    connection.exec_driver_sql("UPDATE budgetalertevents SET muted = false WHERE muted IS NULL")


def _install_triggers_again(connection: Connection) -> None:
    """Install the marking triggers as this release makes them, where the rollups are."""
    from aa_notebooks.db.rollups.triggers import install_triggers
    from aa_notebooks.db.schema import ROLLUP_TABLES

    if set(ROLLUP_TABLES) <= set(inspect(connection).get_table_names()):
        install_triggers(connection)
