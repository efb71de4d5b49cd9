"""Option groups every front end shares: the window, the user scope, paging."""

from __future__ import annotations

import argparse
import keyword
import math
from typing import Any, TypeAlias, TypedDict

# What `add_subparsers` returns; each command module's `register` adds its parsers to it.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

PERIOD_HELP = "24h, 7d, 30d, 90d (or any Nh, Nd, Nw); default 7d"


def window_options(parser: argparse.ArgumentParser) -> None:
    """--period or --start-date/--end-date (validated by the analytics layer, with the fix)."""
    group = parser.add_argument_group("time window")
    group.add_argument("--period", help=PERIOD_HELP)
    group.add_argument("--start-date", metavar="YYYY-MM-DD", help="first day, inclusive (UTC)")
    group.add_argument("--end-date", metavar="YYYY-MM-DD", help="last day, inclusive (UTC)")


class WindowArguments(TypedDict):
    """The window options, as the analytics methods take them."""

    period: str | None
    start_date: str | None
    end_date: str | None


def window_of(args: argparse.Namespace) -> WindowArguments:
    """The window options as keyword arguments for an analytics method."""
    return {"period": args.period, "start_date": args.start_date, "end_date": args.end_date}


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def variable_name(text: str) -> str:
    """argparse type: a name a notebook can use as a variable (`-o NAME`)."""
    if not text.isidentifier() or keyword.iskeyword(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a Python variable name: use letters, digits and _, not first a digit"
        )
    return text


def positive_float(text: str) -> float:
    """argparse type: a finite number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a number above 0, got {text}")
    return value


REPORT_FLAGS = {"user_id": "--user"}
"""Report parameters whose option is not `--` plus the name with dashes."""


def report_flag(name: str) -> str:
    """The command-line option of a `ReportParameters` field."""
    return REPORT_FLAGS.get(name, "--" + name.replace("_", "-"))


def report_options(parser: argparse.ArgumentParser, *, scheduled: bool) -> None:
    """The report parameters as options: the window (a period only, for a schedule, which
    reports on the period before each run), title, time zone, top-N, and the as-of time."""
    from aa_notebooks.reporting.parameters import DEFAULT_TOP_N

    if scheduled:
        parser.add_argument("--period", help=PERIOD_HELP)
    else:
        window_options(parser)
    group = parser.add_argument_group("report")
    group.add_argument("--title", help="the report's title (default: the report's own)")
    zone = "of the cron and of the report's timestamps" if scheduled else "of the timestamps"
    group.add_argument("--timezone", metavar="TZ", help=f"IANA time zone {zone} (default UTC)")
    group.add_argument(
        "--top-n", type=positive_int, default=DEFAULT_TOP_N, help="rows in top-N tables"
    )
    if not scheduled:
        group.add_argument("--as-of", metavar="ISO-TIME", help="make the report as of this time")


def report_parameters(args: argparse.Namespace, user_id: str | None, timezone: str) -> Any:
    """The `ReportParameters` the options (and --user) give; `timezone` when --timezone is
    not given."""
    from aa_notebooks.reporting.parameters import ReportParameters

    return ReportParameters(
        title=args.title,
        period=args.period,
        start_date=getattr(args, "start_date", None),
        end_date=getattr(args, "end_date", None),
        user_id=user_id,
        timezone=args.timezone or timezone,
        top_n=args.top_n,
        as_of=getattr(args, "as_of", None),
    )
