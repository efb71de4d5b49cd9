"""Session commands: connect, help, and the read-only sql query."""

from __future__ import annotations

import argparse
from typing import Any

from aa_notebooks.cli.context import CommandContext
from aa_notebooks.cli.sql_params import bind_placeholders
from aa_notebooks.db.inspection import DatabaseCheck, check_db
from aa_notebooks.db.url import require_database
from aa_notebooks.errors import InvalidInputError


def register(subcommands: argparse._SubParsersAction) -> list[argparse.ArgumentParser]:
    """Add connect, help and sql."""
    connect = subcommands.add_parser(
        "connect", help="use this database (and user scope) for the following commands"
    )
    connect.add_argument(
        "url",
        nargs="?",
        help="sqlite:///path.db or postgresql://user@host/db (default: $AA_DATABASE_URL, "
        "else the SQLite file in your data dir)",
    )
    connect.set_defaults(handler=run_connect)

    help_ = subcommands.add_parser("help", help="list the commands, or explain one")
    help_.add_argument("topic", nargs="?", metavar="COMMAND", help="a command to explain")
    help_.set_defaults(handler=run_help)

    sql = subcommands.add_parser(
        "sql", help="run a read-only SQL query; {name} placeholders are bound parameters"
    )
    sql.add_argument("query", nargs="*", help="the query (in a notebook: the cell body)")
    sql.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="a {NAME} value"
    )
    sql.set_defaults(handler=run_sql)
    return [connect, help_, sql]


def run_connect(args: argparse.Namespace, context: CommandContext) -> DatabaseCheck:
    """Switch the context's database and user scope; report what the database offers."""
    report = check_db(require_database(args.url))
    context.reconnect(args.url, args.user_id or context.user_id)
    return report


def run_help(args: argparse.Namespace, context: CommandContext) -> str:
    """The help text of the whole command set or of one command."""
    from aa_notebooks.cli.commands import build_parser

    parser = build_parser(context.front_end)
    if not args.topic:
        return parser.format_help()
    commands = parser.subcommands()
    if args.topic not in commands:
        parser.parse_args([args.topic])  # raises the unknown-command error with a suggestion
    return commands[args.topic].format_help()


def run_sql(args: argparse.Namespace, context: CommandContext) -> Any:
    """A read-only query against the analytics database, with bound parameters."""
    query = (context.cell or " ".join(args.query)).strip()
    if not query:
        raise InvalidInputError("no query given: write it after `sql` or in the cell below")
    values: dict[str, Any] = dict(context.namespace or {})
    for item in args.param:
        name, sep, value = item.partition("=")
        if not sep:
            raise InvalidInputError(f"--param needs NAME=VALUE, got {item!r}")
        values[name] = value
    statement, params = bind_placeholders(query, values)
    return context.analytics().sql(statement, params)
