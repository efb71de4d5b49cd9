"""Session commands: connect, help, and the read-only sql query.

`connect` switches the database of the commands that follow in a notebook. A terminal command
cannot change its shell's environment, so there `connect URL` checks the database and prints the
`export AA_DATABASE_URL=...` line that makes later commands use it (password masked).
"""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass
from typing import Any

from aa_notebooks.analytics.filters import parse_uuid
from aa_notebooks.cli.context import CommandContext
from aa_notebooks.cli.options import Subcommands
from aa_notebooks.cli.sql_params import bind_placeholders
from aa_notebooks.db.inspection import DatabaseCheck, check_db
from aa_notebooks.db.url import ENV_DATABASE_URL, mask_url, require_database
from aa_notebooks.errors import InvalidInputError


@dataclass(frozen=True)
class ConnectAdvice:
    """What `connect URL` says in a terminal: the database check and how to keep using it."""

    check: DatabaseCheck
    export_line: str
    """`export AA_DATABASE_URL=...` with the password masked as ***."""
    user_id: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the database has the data contract's schema (the exit code follows)."""
        return self.check.ok

    def __str__(self) -> str:
        lines = [
            str(self.check),
            "",
            "Each aa-notebooks command opens the database of --db, else $AA_DATABASE_URL. "
            "To use this one for the commands that follow in this shell, run:",
            f"  {self.export_line}",
        ]
        if "***" in self.export_line:
            lines.append("(write the password in place of ***)")
        if self.user_id:
            lines.append(f"and give --user {self.user_id} to each command for that user's data")
        return "\n".join(lines)


def register(subcommands: Subcommands) -> list[argparse.ArgumentParser]:
    """Add connect, help and sql."""
    connect_help = (
        "check a database; a notebook uses it (and --user) for the following commands, "
        "a terminal prints the AA_DATABASE_URL line that does"
    )
    connect = subcommands.add_parser("connect", help=connect_help, description=connect_help)
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


def run_connect(args: argparse.Namespace, context: CommandContext) -> DatabaseCheck | ConnectAdvice:
    """In a notebook, switch the context's database and user scope; in a terminal, say how.
    Either way, report what the database offers."""
    if args.user_id is not None:
        parse_uuid(args.user_id, "--user")  # refused now, not on every command after
    url = args.url or context.database_url
    report = check_db(require_database(url))
    if context.front_end == "magic":  # without a URL: the one checked, as %config set it
        context.reconnect(url, args.user_id or context.user_id)
        return report
    if args.url is None:
        return report  # already the database the commands use
    export_line = f"export {ENV_DATABASE_URL}={shlex.quote(mask_url(args.url))}"
    return ConnectAdvice(report, export_line, args.user_id)


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
