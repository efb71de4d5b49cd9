"""`reprice`: recompute stored costs with today's price table (a dry run first, if you like)."""

from __future__ import annotations

import argparse

from aa_notebooks.cli.context import CommandContext
from aa_notebooks.cli.options import Subcommands
from aa_notebooks.errors import InvalidInputError
from aa_notebooks.tracking.reprice import Repricing, reprice


def register(subcommands: Subcommands) -> list[argparse.ArgumentParser]:
    """Add the reprice subcommand."""
    parser = subcommands.add_parser(
        "reprice",
        help="recompute stored costs with today's prices; prints the difference per model",
        description="Price the token usage of the executions that started from --start to "
        "--end (UTC days, inclusive) again with today's price table (genai-prices and "
        "$AA_PRICING_FILE, dated prices by each execution's start), print old and new cost per "
        "model, and write the new costs, the execution totals, the budgets' spend ledger and "
        "the rollups in one transaction. Models nothing prices keep their stored cost. "
        "--dry-run prints the differences and writes nothing.",
    )
    parser.add_argument("--start", required=True, metavar="YYYY-MM-DD", help="first UTC day")
    parser.add_argument("--end", required=True, metavar="YYYY-MM-DD", help="last UTC day")
    parser.add_argument("--model", help="only the usage of this model (as stored)")
    parser.add_argument("--dry-run", action="store_true", help="show the differences only")
    parser.set_defaults(handler=run_reprice)
    return [parser]


def run_reprice(args: argparse.Namespace, context: CommandContext) -> Repricing:
    """Reprice the window (all users' executions: refused for a --user-scoped session)."""
    if context.user_id is not None:
        raise InvalidInputError(
            "reprice changes every user's costs; run it without --user (as the database's owner)"
        )
    return reprice(
        context.database_url, args.start, args.end, model=args.model, dry_run=args.dry_run
    )
