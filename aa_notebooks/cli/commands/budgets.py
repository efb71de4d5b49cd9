"""`budgets [list|create|update|delete|status|evaluate|backtest]`: the budget alerts of the data
contract.

`status` only reads; `evaluate` is the explicit write: it stores each budget's spend, records the
alerts due and emails them (what a schedule runs, so alerts go out with no notebook open).
`backtest` replays past executions under a budget described by the same options, writing nothing.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any

from aa_notebooks.budgets.backtest import BudgetBacktest
from aa_notebooks.budgets.client import BudgetClient
from aa_notebooks.budgets.fields import REQUIRED, parse_uuid
from aa_notebooks.budgets.status import BudgetStatusList
from aa_notebooks.cli.context import CommandContext
from aa_notebooks.cli.options import Subcommands, positive_int
from aa_notebooks.errors import InvalidInputError, NotFoundError

ACTIONS = ("list", "create", "update", "delete", "status", "evaluate", "backtest")


def _money(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"expected an amount in USD, got {text!r}") from None


def _levels(text: str) -> list[int]:
    parts = [part.strip() for part in text.split(",")]
    if not all(part.isdigit() for part in parts):
        raise argparse.ArgumentTypeError(f"expected percentages like 50,80,100, got {text!r}")
    return [int(part) for part in parts]


def _flag(text: str) -> bool:
    if text.lower() in ("true", "yes", "1", "on"):
        return True
    if text.lower() in ("false", "no", "0", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def register(subcommands: Subcommands) -> list[argparse.ArgumentParser]:
    """Add the budgets subcommand."""
    budgets = subcommands.add_parser(
        "budgets",
        help="list, create, update, delete budget alerts, show their status, or evaluate them",
        description="Budget alerts: a USD threshold over a rolling window of period_days. "
        "`status` only reads; `evaluate` writes each budget's spend back, records the alerts "
        "due, emails them to AA_BUDGET_ALERT_EMAILS through the AA_SMTP_* server and posts "
        "them to the AA_ALERT_WEBHOOKS URLs (exit status 1 when an alert due could not be "
        "emailed or posted). `backtest` replays the last --days days under the budget the "
        "options describe: the alerts it would have fired, the executions a hard stop would "
        "have refused and the spend saved (nothing is written).",
    )
    budgets.add_argument("action", nargs="?", default="list", choices=ACTIONS)
    budgets.add_argument("id", nargs="?", help="the budget id (status of it alone; update, delete)")
    budgets.add_argument("--name", help="a readable name")
    budgets.add_argument("--scope", choices=("user", "agent", "flow", "global"))
    budgets.add_argument(
        "--target", help="the agent (name or id) or flow an agent/flow budget watches"
    )
    budgets.add_argument("--threshold-usd", type=_money, help="the spending limit in USD")
    budgets.add_argument("--period-days", type=positive_int, help="rolling window (default 30)")
    budgets.add_argument("--alert-type", choices=("warning", "hard_stop"))
    budgets.add_argument("--alert-at-percentage", type=int, help="warn at this percent (1-100)")
    budgets.add_argument("--email-notification", type=_flag, metavar="true|false")
    budgets.add_argument("--active", dest="is_active", type=_flag, metavar="true|false")
    budgets.add_argument("--budget-user", dest="budget_user_id", help="owner (user budgets)")
    budgets.add_argument(
        "--per-user",
        nargs="?",
        const=True,
        type=_flag,
        metavar="true|false",
        help="the budget applies to every user separately: each user's own spend against the "
        "threshold, with a status per user (scope user, no --budget-user)",
    )
    budgets.add_argument(
        "--levels",
        type=_levels,
        metavar="PCT,PCT",
        help="alert levels in percent of the threshold, e.g. 50,80,100 (each fires once per "
        "window; alert-at-percentage and 100 are always levels)",
    )
    budgets.add_argument(
        "--days", type=positive_int, default=90, help="backtest: days of history (default 90)"
    )
    budgets.set_defaults(handler=run_budgets)
    return [budgets]


def _fields(args: argparse.Namespace) -> dict[str, Any]:
    names = ("name", "scope", "target", "threshold_usd", "period_days", "alert_type",
             "alert_at_percentage", "email_notification", "is_active", "per_user")  # fmt: skip
    fields = {n: getattr(args, n) for n in names if getattr(args, n) is not None}
    if args.budget_user_id:
        fields["user_id"] = args.budget_user_id
    if args.levels is not None:
        fields["alert_levels"] = args.levels
    return fields


_OPTION = {"user_id": "budget_user", "alert_levels": "levels", "is_active": "active"}
"""The option that gives a budget field, where their names differ."""


def run_budgets(args: argparse.Namespace, context: CommandContext) -> Any:
    """Dispatch one budgets action to the budgets client of the command's database and scope."""
    budgets = BudgetClient.of(context.analytics())
    if args.action in ("list", "status", "evaluate", "delete") and (given := _fields(args)):
        options = ", ".join("--" + _OPTION.get(name, name).replace("_", "-") for name in given)
        raise InvalidInputError(
            f"`budgets {args.action}` takes no budget fields (got {options}): each budget is "
            "read with its own; give them to create, update or backtest"
        )
    if args.id and args.action in ("list", "evaluate", "create", "backtest"):
        raise InvalidInputError(
            f"`budgets {args.action}` takes no budget id (got {args.id}); `budgets status ID` "
            "shows one budget, `budgets update ID` changes it"
        )
    if args.action == "list":
        return budgets.list().frame  # the CLI prints budgets as plain rows (JSON: a list)
    if args.action == "status":
        found = budgets.status()
        return found if not args.id else _one(found, args.id)
    if args.action == "evaluate":
        return budgets.evaluate()
    if args.action == "backtest":
        return _backtest(budgets, args)
    if args.action == "create":
        if missing := [name for name in REQUIRED if getattr(args, name) is None]:
            options = " and ".join(
                f"--{name.replace('_', '-')} ({REQUIRED[name]})" for name in missing
            )
            raise InvalidInputError(f"`budgets create` needs {options}")
        return budgets.create(**_fields(args))
    if not args.id:
        raise InvalidInputError(f"`budgets {args.action}` needs the budget id")
    if args.action == "update":
        return budgets.update(args.id, **_fields(args))
    budgets.delete(args.id)
    return f"deleted budget {args.id}"


def _one(statuses: BudgetStatusList, budget_id: str) -> BudgetStatusList:
    """The status of the budget `budget_id` alone; NotFoundError when no active budget of this
    scope has it."""
    wanted = parse_uuid(budget_id, "budget id")
    kept = tuple(status for status in statuses if status.budget.id == wanted)
    if not kept:
        raise NotFoundError(
            f"no active budget {wanted} here: `budgets list` shows every budget and whether it "
            "is active"
        )
    return replace(statuses, statuses=kept)


def _backtest(budgets: BudgetClient, args: argparse.Namespace) -> BudgetBacktest:
    """Replay the history under the budget the options describe."""
    if args.threshold_usd is None:
        raise InvalidInputError("`budgets backtest` needs --threshold-usd")
    fields = _fields(args)
    for unused in ("name", "email_notification", "is_active", "alert_levels"):
        fields.pop(unused, None)
    return budgets.backtest(**fields, levels=args.levels, days=args.days)
