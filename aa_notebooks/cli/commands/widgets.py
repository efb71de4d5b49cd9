"""The widget subcommands of the notebook front end: `dashboard` and `trace ID`.

Handlers return the widget (or, without a usable database, a sentence saying why), so the magic's
returned result is what the cell displays.
"""

from __future__ import annotations

import argparse
import importlib
import re
from types import ModuleType
from typing import Any

from aa_notebooks.cli.context import CommandContext
from aa_notebooks.cli.options import Subcommands, window_of, window_options
from aa_notebooks.errors import MissingExtraError


def register(subcommands: Subcommands) -> list[argparse.ArgumentParser]:
    """Add dashboard and trace."""
    dashboard = subcommands.add_parser(
        "dashboard",
        help="the interactive analytics dashboard (KPIs, charts, top agents, recent executions)",
        description="The interactive analytics dashboard; click an execution to see its trace.",
    )
    window_options(dashboard)
    dashboard.add_argument(
        "--live", action="store_true", help="update as runs complete (the Live toggle switched on)"
    )
    dashboard.add_argument(
        "--every",
        metavar="INTERVAL",
        type=parse_interval,
        default=5.0,
        help="live mode's tick: 5s, 1500ms, 1m... at least 1s (default 5s)",
    )
    dashboard.set_defaults(handler=run_dashboard)
    trace = subcommands.add_parser(
        "trace",
        help="one execution's ReAct steps, timeline and token usage",
        description="The trace explorer of one execution.",
    )
    trace.add_argument("id", help="the execution id (UUID)")
    trace.set_defaults(handler=run_trace)
    return [dashboard, trace]


_INTERVAL = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m)?")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0}
MIN_INTERVAL_SECONDS = 1.0


def parse_interval(text: str) -> float:
    """An interval such as "5s", "1500ms", "1m" or "2" (seconds) in seconds, at least 1 s."""
    match = _INTERVAL.fullmatch(text.strip().lower())
    if match is None:
        raise argparse.ArgumentTypeError(
            f"expected an interval like 5s, 1500ms or 1m, got {text!r}"
        )
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    if seconds < MIN_INTERVAL_SECONDS:
        raise argparse.ArgumentTypeError(f"must be at least 1s (each tick reads the database), "
                                         f"got {text!r}")  # fmt: skip
    return seconds


def ui_package() -> ModuleType:
    """The widget package, imported on first use: altair and ipywidgets (the notebook extra) are
    slow to import and not needed by the other commands."""
    try:
        return importlib.import_module("aa_notebooks.ui")
    except ImportError as exc:
        raise MissingExtraError(exc.name or "ipywidgets", "notebook") from None


def run_dashboard(args: argparse.Namespace, context: CommandContext) -> Any:
    """The dashboard widget over the context's database and user scope."""
    ui = ui_package()
    window = window_of(args)
    period = window["period"] or (None if window["start_date"] else "7d")
    return ui.opened(
        context.analytics,
        lambda analytics: ui.Dashboard(
            analytics,
            period,
            start_date=window["start_date"],
            end_date=window["end_date"],
            timezone=context.timezone,
            live=args.live,
            every=args.every,
        ),
    )


def run_trace(args: argparse.Namespace, context: CommandContext) -> Any:
    """The trace explorer widget of one execution."""
    ui = ui_package()
    return ui.opened(
        context.analytics,
        lambda analytics: ui.TraceExplorer(analytics, args.id, timezone=context.timezone),
    )
