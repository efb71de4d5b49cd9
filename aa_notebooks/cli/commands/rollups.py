"""`rollups rebuild|check|enable`: the hourly and daily rollups that big windows read."""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime

from sqlalchemy import Engine

from aa_notebooks.cli.context import CommandContext
from aa_notebooks.cli.options import Subcommands
from aa_notebooks.cli.parser import CommandParser
from aa_notebooks.db.engine import connection_errors, get_engine
from aa_notebooks.db.rollups.check import CheckReport, check_rollups
from aa_notebooks.db.rollups.rebuild import RebuildReport, rebuild_rollups
from aa_notebooks.db.rollups.setup import enable_rollups
from aa_notebooks.db.rollups.state import has_rollups
from aa_notebooks.db.url import require_database
from aa_notebooks.errors import InvalidInputError

NOT_ENABLED = (
    "this database has no rollup tables, or an earlier release's: run `aa-notebooks init-db` on "
    "the kit's own database, or `aa-notebooks rollups enable` on an attached AgentOS one"
)


def register(subcommands: Subcommands) -> list[argparse.ArgumentParser]:
    """Add `rollups` and its actions; returns the action parsers."""
    rollups = subcommands.add_parser(
        "rollups",
        help="the hourly/daily rollups that big windows read: rebuild, check, enable",
        description="Executions and cost by model summed per hour and day, kept current by "
        "the kit's write paths. Rows another program writes (an AgentOS database) reach them "
        "by `rollups rebuild` on a schedule; until then analytics reads those hours raw.",
    )
    actions = rollups.add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=CommandParser
    )
    rebuild = actions.add_parser(
        "rebuild", help="recompute the rollups from the raw rows (all days, or from --since)"
    )
    check = actions.add_parser(
        "check", help="compare the rollups with the raw rows; exits 1 on any difference"
    )
    for parser in (rebuild, check):
        parser.add_argument(
            "--since", metavar="YYYY-MM-DD", type=_day, help="first day, inclusive (UTC)"
        )
    rebuild.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    rebuild.set_defaults(handler=run_rebuild)
    check.set_defaults(handler=run_check)
    enable = actions.add_parser(
        "enable",
        help="create and fill the rollups in a database the kit did not create",
        description="Create the rollup tables in an attached (AgentOS) database and fill them "
        "from its rows, with triggers that mark the hours its own writers change; the kit's "
        "own database gets them from `init-db`. Safe to run again; run it again after upgrading "
        "the kit, whose rollups may need new columns (until then it reads the raw rows).",
    )
    enable.set_defaults(handler=run_enable)
    return [rebuild, check, enable]


def _day(text: str) -> datetime:
    """argparse type: a UTC day."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a day as YYYY-MM-DD, got {text!r}") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _engine(context: CommandContext, *, enabled: bool = True) -> Engine:
    """The database's engine; with `enabled`, refused when it has no rollup tables. Rollups
    hold every user's rows: a --user-scoped command is refused rather than run for all."""
    if context.user_id is not None:
        raise InvalidInputError(
            "rollups hold every user's executions; run `rollups` without --user "
            "(as the database's owner)"
        )
    engine = get_engine(require_database(context.database_url))
    if enabled:
        with connection_errors(engine.url):
            if not has_rollups(engine):
                raise InvalidInputError(NOT_ENABLED)
    return engine


def run_rebuild(args: argparse.Namespace, context: CommandContext) -> RebuildReport:
    """Recompute the rollups of whole days from the raw rows."""
    engine = _engine(context)
    with connection_errors(engine.url):
        return rebuild_rollups(engine, since=args.since, progress=not args.no_progress)


def run_check(args: argparse.Namespace, context: CommandContext) -> CheckReport:
    """Compare the rollups with the raw rows (the CLI exits 1 on a difference)."""
    engine = _engine(context)
    with connection_errors(engine.url):
        return check_rollups(engine, since=args.since)


def run_enable(args: argparse.Namespace, context: CommandContext) -> RebuildReport:
    """Create and fill the rollups (with marking triggers) in this database."""
    engine = _engine(context, enabled=False)
    with connection_errors(engine.url):
        return enable_rollups(engine)
