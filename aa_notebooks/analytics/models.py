"""`compare_models`: per-model latency, reliability and cost efficiency in one grouped query.

Per execution: each execution counts under its own model (`model_name`) with its whole cost,
since latency and success belong to whole executions. Cost by model from the token usage rows,
where a tool call on another model counts under that model, is `cost_summary(by="model")`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from aa_notebooks.analytics.dialect import quantize_money
from aa_notebooks.analytics.filters import EXECUTIONS, in_scope, in_window, is_success
from aa_notebooks.analytics.frames import ratio, to_frame
from aa_notebooks.analytics.model_split import unpriced_models
from aa_notebooks.analytics.periods import Window
from aa_notebooks.analytics.results import Table
from aa_notebooks.analytics.source import Source
from aa_notebooks.pricing import is_priced

MODEL_COLUMNS = (
    "model", "priced", "executions", "success_rate", "avg_response_time_ms", "p95_ms",
    "avg_input_tokens", "avg_output_tokens", "total_cost_usd", "avg_cost_usd",
    "cost_per_success_usd", "cost_per_1k_tokens_usd",
)  # fmt: skip
_FLOATS = (
    "success_rate",
    "avg_response_time_ms",
    "p95_ms",
    "avg_input_tokens",
    "avg_output_tokens",
)
_MONEY = ("total_cost_usd", "avg_cost_usd", "cost_per_success_usd", "cost_per_1k_tokens_usd")
PER_EXECUTION = (
    "Per execution: each execution counts whole under its own model (model_name). Cost by model "
    "from the token usage rows: `costs --by model`, cost_summary(by='model')"
)


def _per(cost: Decimal, count: int | None, scale: int = 1) -> Decimal | None:
    return quantize_money(cost * scale / count) if count else None


def compare_models(source: Source, window: Window) -> Table:
    """One row per execution model (`model_name`) in the window, most used first; each
    execution counts whole under its own model (the cost by model of the usage rows is
    `cost_summary(by="model")`).

    Columns: model, priced, executions, success_rate, avg_response_time_ms, p95_ms,
    avg_input_tokens, avg_output_tokens, total_cost_usd, avg_cost_usd (per execution),
    cost_per_success_usd (per successful execution), cost_per_1k_tokens_usd.
    """
    c = EXECUTIONS.c
    executions = func.count().label("executions")
    query = (
        select(
            c.model_name.label("model"),
            executions,
            func.sum(is_success()).label("successes"),
            func.sum(c.execution_time_ms).label("time_sum"),
            func.count(c.execution_time_ms).label("time_count"),
            source.dialect.latency_percentiles(c.execution_time_ms).label("percentiles"),
            func.sum(c.input_tokens).label("input_sum"),
            func.count(c.input_tokens).label("input_count"),
            func.sum(c.output_tokens).label("output_sum"),
            func.count(c.output_tokens).label("output_count"),
            func.sum(c.total_tokens).label("tokens"),
            source.dialect.money_sum(c.cost_usd).label("cost"),
        )
        .where(in_window(window), *in_scope(source.user_id))
        .group_by(c.model_name)
        .order_by(executions.desc(), source.dialect.text_order(c.model_name).nulls_last())
    )
    with source.connect() as connection:
        rows = [r._mapping for r in connection.execute(query)]
    records = [_record(source, row) for row in rows]
    frame = to_frame(records, MODEL_COLUMNS, money=_MONEY, floats=_FLOATS)
    notes: tuple[str, ...] = (PER_EXECUTION,)
    if unpriced := unpriced_models([r["model"] for r in rows]):
        notes = (f"Unpriced models (their costs show $0): {', '.join(unpriced)}", *notes)
    return Table("Model comparison", window, source.scope, frame, notes)


def _record(source: Source, row: Any) -> dict[str, Any]:
    cost = source.dialect.to_money(row["cost"])
    return {
        "model": row["model"],
        "priced": is_priced(row["model"]),
        "executions": row["executions"],
        "success_rate": ratio(row["successes"], row["executions"], 100),
        "avg_response_time_ms": ratio(row["time_sum"] or 0, row["time_count"]),
        "p95_ms": source.dialect.read_percentiles(row["percentiles"]).p95,
        "avg_input_tokens": ratio(row["input_sum"] or 0, row["input_count"]),
        "avg_output_tokens": ratio(row["output_sum"] or 0, row["output_count"]),
        "total_cost_usd": cost,
        "avg_cost_usd": _per(cost, row["executions"]),
        "cost_per_success_usd": _per(cost, row["successes"]),
        "cost_per_1k_tokens_usd": _per(cost, row["tokens"], 1000),
    }
