"""The analytics subcommands, one per analytics function, with its parameters as options.

Handlers return the analytics layer's result; the CLI prints it and the magic returns it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from aa_notebooks.analytics.choices import ANOMALY_BY, BUCKETS, SORT_COLUMNS, SORT_ORDERS
from aa_notebooks.analytics.filters import agent_column
from aa_notebooks.budgets.anomaly_alerts import alert_anomalies
from aa_notebooks.cli.context import CommandContext
from aa_notebooks.cli.options import (
    Subcommands,
    positive_float,
    positive_int,
    window_of,
    window_options,
)
from aa_notebooks.errors import InvalidInputError

STATUSES = ("success", "failure", "timeout")


def register(subcommands: Subcommands) -> list[argparse.ArgumentParser]:
    """Add overview, executions, execution, agent, top-agents, costs, forecast, compare-models,
    timeseries, cost-timeseries, anomalies, export and running."""
    parsers = []

    def add(name: str, handler: Any, help: str, *, window: bool = True) -> argparse.ArgumentParser:
        sub = subcommands.add_parser(name, help=help, description=help)
        if window:
            window_options(sub)
        sub.set_defaults(handler=handler)
        parsers.append(sub)
        return sub

    overview = add(
        "overview", run_overview, "dashboard summary: executions, success rate, latency, cost"
    )
    exact_option(overview)
    overview.add_argument(
        "--caching",
        action="store_true",
        help="add the prompt cache's hit share and what it saved (reads the usage rows: "
        "slower on big windows)",
    )

    executions = add("executions", run_executions, "a page of executions, filtered and sorted")
    executions.add_argument("--page", type=positive_int, default=1, help="page number (from 1)")
    executions.add_argument("--page-size", type=positive_int, help="rows per page (1-1000)")
    executions.add_argument("--status", choices=STATUSES, help="only this status")
    executions.add_argument("--agent", help="only this agent (id or name)")
    executions.add_argument("--agent-id", help="only this agent id (UUID)")
    executions.add_argument("--agent-name", help="only this agent name")
    executions.add_argument("--model", help="only this model")
    executions.add_argument("--min-cost", metavar="USD", help="only costs from USD (inclusive)")
    executions.add_argument("--max-cost", metavar="USD", help="only costs up to USD (inclusive)")
    executions.add_argument("--min-duration-ms", type=int, metavar="MS", help="only from MS")
    executions.add_argument("--max-duration-ms", type=int, metavar="MS", help="only up to MS")
    executions.add_argument(
        "--search",
        metavar="TEXT",
        help="only previews holding TEXT (any case; on SQLite, ASCII letters only)",
    )
    executions.add_argument("--sort-by", default="started_at", choices=SORT_COLUMNS)
    executions.add_argument("--sort-order", default="desc", choices=SORT_ORDERS)
    executions.add_argument(
        "--grid",
        action="store_true",
        help="in a notebook: a grid of every execution of the window to scroll, sort and "
        "filter (a click opens its trace), instead of one page",
    )

    execution = add("execution", run_execution, "one execution with its trace and token usage",
                    window=False)  # fmt: skip
    execution.add_argument("id", help="the execution id (UUID)")

    agent = add("agent", run_agent, "per-agent statistics with a daily series")
    agent.add_argument("agent", help="agent id (UUID) or agent name")
    agent.add_argument(
        "--daily", action="store_true", help="only the daily series, as rows (a DataFrame)"
    )
    exact_option(agent)

    top = add("top-agents", run_top_agents, "most-used agents: executions, success, time, cost")
    top.add_argument("--limit", type=positive_int, default=10, help="how many (default 10)")

    costs = add("costs", run_costs, "cost, tokens and executions by model, agent, user or day")
    costs.add_argument("--by", default="model", choices=("model", "agent", "user", "day"))
    exact_option(costs)

    add("cache", run_cache, "prompt caching by model: cache hit share and what it saved")
    projection = add(
        "forecast", run_forecast, "this month's projected cost, with a band (window: lookback)"
    )
    exact_option(projection)
    compare = add(
        "compare-models", run_compare_models, "per-model latency, success and cost efficiency"
    )
    exact_option(compare)

    series = add("timeseries", run_timeseries, "executions, success rate, cost and P95 per bucket")
    series.add_argument("--bucket", default="day", choices=BUCKETS)
    exact_option(series)

    cost_series = add(
        "cost-timeseries", run_cost_timeseries, "cost, tokens and executions per bucket by model"
    )
    cost_series.add_argument("--bucket", default="day", choices=BUCKETS)
    cost_series.add_argument("--by", default="model", choices=("model", "agent"))
    exact_option(cost_series)

    anomalies = add(
        "anomalies",
        run_anomalies,
        "days whose cost, P95 latency or failure rate broke from the agent's (or model's) past",
    )
    anomalies.add_argument("--by", default="agent", choices=ANOMALY_BY)
    anomalies.add_argument("--agent", help="only this agent (id or name)")
    anomalies.add_argument("--model", help="only this model")
    anomalies.add_argument(
        "--baseline-days",
        type=positive_int,
        default=28,
        metavar="N",
        help="past days each day is compared with (14-365, default 28)",
    )
    anomalies.add_argument(
        "--threshold",
        type=positive_float,
        default=3.5,
        metavar="Z",
        help="flag from this robust z (default 3.5)",
    )
    exact_option(anomalies)
    anomalies.add_argument(
        "--alert",
        action="store_true",
        help="email (AA_BUDGET_ALERT_EMAILS via AA_SMTP_*) and post (AA_ALERT_WEBHOOKS) the "
        "anomalies not sent yet, each once (window default: the last 2 days); exit 1 when a "
        "channel failed (they are tried again next time)",
    )

    export = add("export", run_export, "export executions as CSV or JSON")
    export.add_argument("--format", dest="export_format", default="csv", choices=("csv", "json"))
    export.add_argument("--output", metavar="FILE", type=Path, help="write to FILE")
    export.add_argument("--with-traces", action="store_true", help="include trace steps")
    export.add_argument("--with-token-usage", action="store_true", help="include token usage")
    export.add_argument(
        "--no-escape-formulas",
        dest="escape_formulas",
        action="store_false",
        help="CSV: keep text starting with = + - @ as it is (for pandas, not for spreadsheets)",
    )
    running = add(
        "running",
        run_running,
        "runs in flight now, oldest first; lost ones stopped sending heartbeats",
        window=False,
    )
    running.add_argument("--agent", metavar="NAME", help="only this agent")
    running.add_argument(
        "--by-agent", action="store_true", help="count them per agent, with the oldest's age"
    )
    return parsers


def run_overview(args: argparse.Namespace, context: CommandContext) -> Any:
    """Dashboard summary."""
    analytics = context.analytics()
    return analytics.overview(**window_of(args), exact=args.exact, caching=args.caching)


def run_executions(args: argparse.Namespace, context: CommandContext) -> Any:
    """A page of executions, or with --grid the grid of all of them."""
    agent_id, agent_name = args.agent_id, args.agent_name
    if args.agent is not None:
        if agent_id or agent_name:
            raise InvalidInputError("give --agent, or --agent-id and --agent-name, not both")
        column, value = agent_column(args.agent)
        agent_id, agent_name = (value, None) if column == "agent_id" else (None, value)
    filters: dict[str, Any] = {
        "status": args.status,
        "agent_id": agent_id,
        "agent_name": agent_name,
        "model": args.model,
        "min_cost": args.min_cost,
        "max_cost": args.max_cost,
        "min_duration_ms": args.min_duration_ms,
        "max_duration_ms": args.max_duration_ms,
        "search": args.search,
    }
    if args.grid:
        if context.front_end != "magic":
            raise InvalidInputError(
                "--grid shows a widget: use it in a notebook (%agent_analytics executions --grid)"
            )
        return _grid(args, context, filters)
    window = window_of(args)  # each value is checked by analytics
    return context.analytics().executions(
        args.page,
        args.page_size or context.page_size,
        sort_by=args.sort_by,
        sort_order=args.sort_order,
        **filters,
        **window,
    )


def _grid(args: argparse.Namespace, context: CommandContext, filters: dict[str, Any]) -> Any:
    """The executions grid widget, its toolbar filled with the options given."""
    from aa_notebooks.cli.commands.widgets import ui_package

    ui = ui_package()
    analytics = context.analytics()
    agent_id, agent_name = filters.pop("agent_id"), filters.pop("agent_name")
    if agent_id and agent_name:
        raise InvalidInputError("the grid filters one agent: give --agent-id or --agent-name")
    agent = agent_id or agent_name
    fields = {key: str(value) for key, value in filters.items() if value is not None}
    if agent:
        fields["agent"] = str(agent)
    return ui.ExecutionsView(
        analytics,
        analytics.window(**window_of(args)),
        timezone=context.timezone,
        filters=fields,
        sort_by=args.sort_by,
        sort_order=args.sort_order,
    )


def run_execution(args: argparse.Namespace, context: CommandContext) -> Any:
    """One execution in detail."""
    return context.analytics().execution(args.id)


def run_agent(args: argparse.Namespace, context: CommandContext) -> Any:
    """Per-agent statistics, or with --daily their daily series."""
    stats = context.analytics().agent_stats(args.agent, exact=args.exact, **window_of(args))
    return stats.to_frame() if args.daily else stats


def run_top_agents(args: argparse.Namespace, context: CommandContext) -> Any:
    """Top agents by executions."""
    return context.analytics().top_agents(limit=args.limit, **window_of(args))


def run_costs(args: argparse.Namespace, context: CommandContext) -> Any:
    """Cost breakdown."""
    return context.analytics().cost_summary(by=args.by, exact=args.exact, **window_of(args))


def run_cache(args: argparse.Namespace, context: CommandContext) -> Any:
    """Prompt caching by model."""
    return context.analytics().cache_savings(**window_of(args))


def run_forecast(args: argparse.Namespace, context: CommandContext) -> Any:
    """This month's projected cost."""
    return context.analytics().cost_forecast(exact=args.exact, **window_of(args))


def run_compare_models(args: argparse.Namespace, context: CommandContext) -> Any:
    """Model comparison."""
    return context.analytics().compare_models(exact=args.exact, **window_of(args))


def exact_option(parser: argparse.ArgumentParser) -> None:
    """--exact: read the raw rows instead of the rollups."""
    parser.add_argument(
        "--exact",
        action="store_true",
        help="read only the raw rows, not the rollups (an audit; exact percentiles)",
    )


def run_timeseries(args: argparse.Namespace, context: CommandContext) -> Any:
    """Bucketed series for charts."""
    return context.analytics().timeseries(bucket=args.bucket, exact=args.exact, **window_of(args))


def run_cost_timeseries(args: argparse.Namespace, context: CommandContext) -> Any:
    """Cost per bucket by model or agent, for stacked charts."""
    return context.analytics().cost_timeseries(
        bucket=args.bucket, by=args.by, exact=args.exact, **window_of(args)
    )


def run_anomalies(args: argparse.Namespace, context: CommandContext) -> Any:
    """Anomalous days per agent or model (with --alert, sent to email and webhooks)."""
    if args.alert:
        analytics = context.analytics()
        window = analytics.window(**window_of(args)) if _window_given(args) else "2d"
        return alert_anomalies(analytics, window, by=args.by)
    return context.analytics().anomalies(
        by=args.by,
        agent=args.agent,
        model=args.model,
        baseline_days=args.baseline_days,
        threshold=args.threshold,
        exact=args.exact,
        **window_of(args),
    )


def run_export(args: argparse.Namespace, context: CommandContext) -> Any:
    """Export executions to a file (or return the text)."""
    return context.analytics().export(
        format=args.export_format,
        path=args.output,
        include_traces=args.with_traces,
        include_token_usage=args.with_token_usage,
        escape_formulas=args.escape_formulas,
        **window_of(args),
    )


def run_running(args: argparse.Namespace, context: CommandContext) -> Any:
    """`running`: the runs in flight (or their count per agent)."""
    return context.analytics().running(args.agent, by_agent=args.by_agent)


def _window_given(args: argparse.Namespace) -> bool:
    return any(value is not None for value in window_of(args).values())
