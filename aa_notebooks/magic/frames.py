"""What a magic command gives the notebook: rows as a pandas DataFrame, records as rich objects.

Commands that yield rows (executions, top-agents, costs, compare-models, timeseries,
cost-timeseries, anomalies, budgets list/status, sql) return a DataFrame whose `attrs` hold the
metadata (title, window, scope, notes, paging), shown above the table. Single records (overview,
execution, agent, forecast) stay typed objects with `.to_frame()`.
"""

from __future__ import annotations

import argparse
from typing import Any

from aa_notebooks.analytics.frames import described
from aa_notebooks.analytics.results import Rows
from aa_notebooks.cli.context import CommandContext


def notebook_result(result: Any, args: argparse.Namespace, context: CommandContext) -> Any:
    """The command's result as the notebook receives it (and `-o NAME` stores)."""
    if isinstance(result, Rows):
        return result.to_frame()
    if args.command == "budgets" and args.action == "status":
        warning = result.email_warning
        return described(
            result.to_frame(),
            "Budget status",
            scope=context.analytics().scope,
            notes=[warning] if warning else (),
        )
    if args.command == "budgets" and args.action == "list":
        return described(result, "Budgets", scope=context.analytics().scope)
    if args.command == "sql":
        return described(result, "SQL query")
    return result
