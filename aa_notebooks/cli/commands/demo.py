"""`aa-notebooks demo`: the README's first command, on the embedded default database."""

from __future__ import annotations

import argparse

from aa_notebooks.cli.context import CommandContext
from aa_notebooks.db.inspection import database_info
from aa_notebooks.db.url import resolve_url


def register(subcommands: argparse._SubParsersAction) -> list[argparse.ArgumentParser]:
    """Add the demo subcommand."""
    demo = subcommands.add_parser(
        "demo", help="seed demo data (when the database is empty) and show the overview"
    )
    demo.add_argument("--reset", action="store_true", help="reseed even if data exists")
    demo.set_defaults(handler=run_demo)
    return [demo]


def run_demo(args: argparse.Namespace, context: CommandContext) -> None:
    """Seed when empty, then print what the database holds and the 30-day overview."""
    from aa_notebooks.analytics import connect
    from aa_notebooks.db.setup import init_db
    from aa_notebooks.seed import seed_database

    url = resolve_url(context.database_url)
    init_db(url)
    if args.reset or not database_info(url).row_counts.get("agentexecutions"):
        print(seed_database(url, reset=args.reset, progress=True))
    print(database_info(url))
    print()
    print(connect(url).overview("30d"))
