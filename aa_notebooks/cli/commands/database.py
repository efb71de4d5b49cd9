"""Database commands: init-db, check-db, seed, info, search-index."""

from __future__ import annotations

import argparse

from aa_notebooks.cli.context import CommandContext
from aa_notebooks.cli.options import Subcommands, positive_int
from aa_notebooks.db.engine import connection_errors, get_engine
from aa_notebooks.db.inspection import DatabaseCheck, DatabaseInfo, check_db, database_info
from aa_notebooks.db.search_index import (
    SearchIndexReport,
    disable_search_index,
    enable_search_index,
)
from aa_notebooks.db.setup import InitReport, init_db
from aa_notebooks.db.url import require_database


def register(subcommands: Subcommands) -> list[argparse.ArgumentParser]:
    """Add the database subcommands; returns their parsers."""
    init = subcommands.add_parser("init-db", help="create the kit's tables (never alters AgentOS)")
    init.set_defaults(handler=run_init_db)

    check = subcommands.add_parser(
        "check-db", help="report missing tables/columns and the features they disable"
    )
    check.set_defaults(handler=run_check_db)

    seed = subcommands.add_parser("seed", help="fill the database with realistic demo data")
    seed.add_argument("--executions", type=positive_int, default=250, help="how many (default 250)")
    seed.add_argument(
        "--days", type=positive_int, default=90, help="spread over N days (default 90)"
    )
    seed.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    seed.add_argument("--reset", action="store_true", help="replace existing executions")
    seed.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    seed.set_defaults(handler=run_seed)

    info = subcommands.add_parser(
        "info",
        help="which database, rows per table, date range",
        description="A table PostgreSQL estimates at a million rows or more shows its estimate, "
        "marked 'about' (autovacuum keeps it close): counting it reads every row, seconds at ten "
        "million. --exact counts them all.",
    )
    info.add_argument("--exact", action="store_true", help="count every table's rows")
    info.set_defaults(handler=run_info)

    search = subcommands.add_parser(
        "search-index",
        help="enable or disable PostgreSQL's trigram index for text search in query previews",
        description="A pg_trgm GIN index on agentexecutions.query_preview: a text search at a "
        "million executions counts in tens of milliseconds instead of reading every row, and "
        "recording runs about 16% slower. PostgreSQL only.",
    )
    search.add_argument("action", choices=("enable", "disable"))
    search.set_defaults(handler=run_search_index)
    return [init, check, seed, info, search]


def run_init_db(args: argparse.Namespace, context: CommandContext) -> InitReport:
    """Create missing tables."""
    return init_db(context.database_url)


def run_check_db(args: argparse.Namespace, context: CommandContext) -> DatabaseCheck:
    """What the database lacks (the CLI exits 1 when something is missing)."""
    return check_db(require_database(context.database_url))


def run_search_index(args: argparse.Namespace, context: CommandContext) -> SearchIndexReport:
    """Create or drop the trigram index."""
    engine = get_engine(require_database(context.database_url))
    change = enable_search_index if args.action == "enable" else disable_search_index
    with connection_errors(engine.url):
        return change(engine)


def run_seed(args: argparse.Namespace, context: CommandContext) -> object:
    """Seed demo data."""
    from aa_notebooks.seed import seed_database

    return seed_database(
        context.database_url,
        executions=args.executions,
        seed=args.seed,
        days=args.days,
        reset=args.reset,
        progress=not args.no_progress,
    )


def run_info(args: argparse.Namespace, context: CommandContext) -> DatabaseInfo:
    """The database summary."""
    return database_info(require_database(context.database_url), exact=args.exact)
