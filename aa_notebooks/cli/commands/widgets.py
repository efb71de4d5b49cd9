"""The widget subcommands of the notebook front end: `dashboard` and `trace ID`.

Handlers return the widget (or, without a usable database, a sentence saying why), so the magic's
returned result is what the cell displays.
"""

from __future__ import annotations

import argparse
import importlib
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
    dashboard.set_defaults(handler=run_dashboard)
    trace = subcommands.add_parser(
        "trace",
        help="one execution's ReAct steps, timeline and token usage",
        description="The trace explorer of one execution.",
    )
    trace.add_argument("id", help="the execution id (UUID)")
    trace.set_defaults(handler=run_trace)
    return [dashboard, trace]


def _ui() -> ModuleType:
    """The widget package, imported on first use: altair and ipywidgets (the notebook extra) are
    slow to import and not needed by the other commands."""
    try:
        return importlib.import_module("aa_notebooks.ui")
    except ImportError as exc:
        raise MissingExtraError(exc.name or "ipywidgets", "notebook") from None


def run_dashboard(args: argparse.Namespace, context: CommandContext) -> Any:
    """The dashboard widget over the context's database and user scope."""
    ui = _ui()
    window = window_of(args)
    period = window["period"] or (None if window["start_date"] else "7d")
    return ui.opened(
        context.analytics,
        lambda analytics: ui.Dashboard(
            analytics,
            period,
            start_date=window["start_date"],
            end_date=window["end_date"],
            page_size=context.page_size,
            timezone=context.timezone,
        ),
    )


def run_trace(args: argparse.Namespace, context: CommandContext) -> Any:
    """The trace explorer widget of one execution."""
    ui = _ui()
    return ui.opened(
        context.analytics,
        lambda analytics: ui.TraceExplorer(analytics, args.id, timezone=context.timezone),
    )
