"""`compare_models`: per-model latency, reliability and cost efficiency, added up from the
window's (agent, model) sums (`pairs`, through the rollups where they answer).

Per execution: each execution counts under its own model (`model_name`) with its whole cost,
since latency and success belong to whole executions. Cost by model from the token usage rows,
where a tool call on another model counts under that model, is `cost_summary(by="model")`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Connection, select

from aa_notebooks.analytics import rollup_source
from aa_notebooks.analytics.dialect import quantize_money
from aa_notebooks.analytics.filters import EXECUTIONS, in_scope, in_window
from aa_notebooks.analytics.frames import ratio, rounded, to_frame
from aa_notebooks.analytics.model_split import (
    execution_sums,
    split_by_model,
    unpriced_models,
    unpriced_note,
    was_priced,
)
from aa_notebooks.analytics.pairs import Pair, grouped, totals
from aa_notebooks.analytics.periods import Window
from aa_notebooks.analytics.results import Table
from aa_notebooks.analytics.rollup_buckets import BucketSums, bucket_quantiles_by
from aa_notebooks.analytics.rollup_plan import ReadPlan
from aa_notebooks.analytics.rollup_source import sketch_note, window_moved, window_sums
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


def compare_models(source: Source, window: Window, *, exact: bool = False) -> Table:
    """One row per execution model (`model_name`) in the window, most used first; each
    execution counts whole under its own model (the cost by model of the usage rows is
    `cost_summary(by="model")`). Sums from the rollups where they answer (unless `exact`); P95
    per model exact up to EXACT_PERCENTILES_UP_TO executions, else from the merged sketches.

    Columns: model, priced, executions, success_rate, avg_response_time_ms, p95_ms,
    avg_input_tokens, avg_output_tokens, total_cost_usd, avg_cost_usd (per execution),
    cost_per_success_usd (per successful execution), cost_per_1k_tokens_usd. Whether a model is
    priced is read from its own usage rows (the cost by model), as the overview reads it: an
    execution's whole cost may come from other models' calls. Those rows are read only when a
    model nothing prices here has a cost.
    """
    with source.connect() as connection:
        sums = window_sums(source, window, connection, moved=False, percentiles=False, exact=exact)
        models = [(model, totals(pairs)) for model, pairs in grouped(sums.pairs, _model).items()]
        moved = []
        if any(model and cost > 0 and not is_priced(model) for model, (_, cost) in models):
            moved = window_moved(source, window, sums.plan, connection)  # whose cost is whose
        executions = sum(counts["executions"] for _, (counts, _) in models)
        plan = sums.plan if executions > rollup_source.EXACT_PERCENTILES_UP_TO else None
        p95 = (
            _raw_p95(source, window, connection) if plan is None
            else _sketch_p95(source, plan, connection)
        )  # fmt: skip
    models.sort(key=lambda found: (-found[1][0]["executions"], *_text_order(found[0])))
    own = {m: s.cost for m, s in split_by_model(execution_sums(sums.pairs), moved).items()}
    own_costs = [(model, own.get(model, cost)) for model, (_, cost) in models]
    records = [
        _record(model, counts, cost, p95.get(model), was_priced(*own_cost))
        for (model, (counts, cost)), own_cost in zip(models, own_costs, strict=True)
    ]
    frame = to_frame(records, MODEL_COLUMNS, money=_MONEY, floats=_FLOATS)
    notes: tuple[str, ...] = (PER_EXECUTION,)
    if note := unpriced_note(unpriced_models(own_costs)):
        notes = (note, *notes)
    if plan is not None:
        notes = (*notes, sketch_note("P95 per model"))
    return Table("Model comparison", window, source.scope, frame, notes, sums.source)


def _model(pair: Pair) -> str | None:
    return pair.model


def _text_order(model: str | None) -> tuple[bool, bytes]:
    """Names in byte order (the databases' "C"/BINARY order), no model last."""
    return model is None, (model or "").encode()


def _raw_p95(source: Source, window: Window, connection: Connection) -> dict[str | None, float]:
    """P95 per model from the raw rows."""
    c = EXECUTIONS.c
    query = (
        select(c.model_name, source.dialect.latency_percentiles(c.execution_time_ms))
        .where(in_window(window), *in_scope(source))
        .group_by(c.model_name)
    )
    found = {}
    for model, percentiles in connection.execute(query):
        p95 = source.dialect.read_percentiles(percentiles).p95
        if p95 is not None:
            found[model] = p95
    return found


def _sketch_p95(source: Source, plan: ReadPlan, connection: Connection) -> dict[str | None, float]:
    """P95 per model from the latency rollups' sketches (merged over the window) and the raw
    spans."""
    p95s = bucket_quantiles_by(
        source, BucketSums(plan, {}, {}), None, connection, {"model": lambda _a, _n, m: m}, 0.95
    )["model"]
    found: dict[str | None, float] = {}
    for (_, model), p95 in p95s.items():
        if (value := rounded(p95)) is not None:
            found[cast(str | None, model)] = value
    return found


def _record(
    model: str | None, counts: dict[str, int], cost: Decimal, p95: float | None, priced: bool
) -> dict[str, Any]:
    executions, successes = counts["executions"], counts["success"]
    return {
        "model": model,
        "priced": priced,
        "executions": executions,
        "success_rate": ratio(successes, executions, 100),
        "avg_response_time_ms": ratio(counts["time_sum"], counts["time_count"]),
        "p95_ms": p95,
        "avg_input_tokens": ratio(counts["input"], counts["input_count"]),
        "avg_output_tokens": ratio(counts["output"], counts["output_count"]),
        "total_cost_usd": cost,
        "avg_cost_usd": _per(cost, executions),
        "cost_per_success_usd": _per(cost, successes),
        "cost_per_1k_tokens_usd": _per(cost, counts["tokens"], 1000),
    }
