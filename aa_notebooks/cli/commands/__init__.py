"""The command registry: each module adds its subcommands to one shared parser."""

from __future__ import annotations

import argparse
from importlib.metadata import version

from aa_notebooks.cli.commands import database, demo
from aa_notebooks.cli.parser import CommandParser

PROG = "aa-notebooks"
COMMAND_MODULES = (database, demo)


def database_option(parser: argparse.ArgumentParser, *, top_level: bool) -> None:
    """`--db URL` on the top level and on every subcommand (so it may come before or after)."""
    parser.add_argument(
        "--db",
        metavar="URL",
        dest="database_url",
        default=None if top_level else argparse.SUPPRESS,
        help="database URL (default: $AA_DATABASE_URL, else the SQLite file in your data dir)",
    )


def build_parser() -> CommandParser:
    """The whole command line: global options and every subcommand."""
    parser = CommandParser(
        prog=PROG,
        description="Analytics, cost and reporting for LLM agents.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {version(PROG)}")
    database_option(parser, top_level=True)
    subcommands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=CommandParser
    )
    for module in COMMAND_MODULES:
        for sub in module.register(subcommands):
            database_option(sub, top_level=False)
    return parser
