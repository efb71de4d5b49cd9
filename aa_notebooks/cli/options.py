"""Option groups every front end shares: the window, the user scope, paging."""

from __future__ import annotations

import argparse

PERIOD_HELP = "24h, 7d, 30d, 90d (or any Nh, Nd, Nw); default 7d"


def window_options(parser: argparse.ArgumentParser) -> None:
    """--period or --start-date/--end-date (validated by the analytics layer, with the fix)."""
    group = parser.add_argument_group("time window")
    group.add_argument("--period", help=PERIOD_HELP)
    group.add_argument("--start-date", metavar="YYYY-MM-DD", help="first day, inclusive (UTC)")
    group.add_argument("--end-date", metavar="YYYY-MM-DD", help="last day, inclusive (UTC)")


def window_of(args: argparse.Namespace) -> dict[str, str | None]:
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
