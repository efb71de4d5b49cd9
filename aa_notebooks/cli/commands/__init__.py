"""The command registry: one argument specification for the CLI and the IPython magic.

Each module adds its subcommands; the front end adds only its own output options:
`--format table|json|csv` in the terminal, `-o/--save NAME` in a notebook.
"""

from __future__ import annotations

import argparse
from importlib.metadata import version

from aa_notebooks.cli.commands import (
    analytics,
    budgets,
    database,
    demo,
    ingest,
    pricing,
    reports,
    rollups,
    schedules,
    server,
    session,
    tail,
    widgets,
)
from aa_notebooks.cli.context import FrontEnd
from aa_notebooks.cli.options import variable_name
from aa_notebooks.cli.output import FORMATS
from aa_notebooks.cli.parser import COMMAND_METAVAR, CommandParser

PROG = {"cli": "aa-notebooks", "magic": "%agent_analytics"}
COMMAND_MODULES = {
    "cli": (
        session,
        analytics,
        budgets,
        database,
        ingest,
        pricing,
        rollups,
        reports,
        demo,
        schedules,
        server,
        tail,
    ),
    "magic": (session, analytics, budgets, database, pricing, reports, widgets),
}


def _common_options(parser: argparse.ArgumentParser, *, top_level: bool) -> None:
    """--db and --user, accepted before or after the subcommand."""
    default = None if top_level else argparse.SUPPRESS
    parser.add_argument(
        "--db",
        metavar="URL",
        dest="database_url",
        default=default,
        help="database URL (default: $AA_DATABASE_URL, else the SQLite file in your data dir)",
    )
    parser.add_argument(
        "--user", metavar="ID", dest="user_id", default=default, help="only this user's data"
    )


def _front_end_options(parser: argparse.ArgumentParser, front_end: FrontEnd) -> None:
    if front_end == "magic":
        parser.add_argument("-o", "--save", metavar="NAME", type=variable_name,
                            help="also store the result as NAME")  # fmt: skip
    elif "--format" not in parser._option_string_actions:
        parser.add_argument("--format", dest="output_format", default="table", choices=FORMATS)


def build_parser(front_end: FrontEnd = "cli") -> CommandParser:
    """Every subcommand with its options, for the terminal ("cli") or a notebook ("magic")."""
    parser = CommandParser(
        prog=PROG[front_end],
        description="Analytics, cost and reporting for LLM agents.",
    )
    parser.add_argument(
        "--version", action="version", version=f"aa-notebooks {version('aa-notebooks')}"
    )
    _common_options(parser, top_level=True)
    subcommands = parser.add_subparsers(
        dest="command", metavar=COMMAND_METAVAR, required=True, parser_class=CommandParser
    )
    for module in COMMAND_MODULES[front_end]:
        for sub in module.register(subcommands):
            _common_options(sub, top_level=False)
            _front_end_options(sub, front_end)
    return parser
