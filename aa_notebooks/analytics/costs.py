"""`cost_summary`: cost, tokens and executions by model, agent, user or day, with shares."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import CompoundSelect, String, cast, func, select
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from aa_notebooks.analytics.buckets import per_bucket
from aa_notebooks.analytics.filters import EXECUTIONS, agent_groups, in_scope, in_window
from aa_notebooks.analytics.frames import ratio, to_frame
from aa_notebooks.analytics.overview import unpriced_models
from aa_notebooks.analytics.periods import Window
from aa_notebooks.analytics.results import Table
from aa_notebooks.analytics.source import Source
from aa_notebooks.errors import InvalidInputError
from aa_notebooks.pricing import is_priced

COST_BY = ("model", "agent", "user", "day")
_MEASURES = (
    "executions",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cost_usd",
    "cost_share",
)
_KEYS = {
    "model": ("model", "priced"),
    "agent": ("agent", "agent_id", "agent_name"),
    "user": ("user_id",),
    "day": ("day",),
}


def _measures(source: Source) -> list[ColumnElement[Any]]:
    c = EXECUTIONS.c
    return [
        func.count(c.started_at).label("executions"),
        func.sum(c.input_tokens).label("input_tokens"),
        func.sum(c.output_tokens).label("output_tokens"),
        func.sum(c.total_tokens).label("total_tokens"),
        source.dialect.money_sum(c.cost_usd).label("cost"),
    ]


def _grouped(source: Source, window: Window, by: str) -> list[Select[Any] | CompoundSelect]:
    """The aggregate queries for `by`: most expensive first, or days in order."""
    c = EXECUTIONS.c
    if by == "day":
        return list(per_bucket(window, "day", _measures(source), in_scope(source.user_id)))
    where = [in_window(window), *in_scope(source.user_id)]
    cost = source.dialect.money_sum(c.cost_usd)
    if by == "agent":
        agent_id, by_name = agent_groups()
        name = func.max(source.dialect.text_order(c.agent_name))
        keys: list[ColumnElement[Any]] = [agent_id, name.label("agent_name")]
        groups = [source.dialect.group_key(agent_id), by_name]
        tie = [source.dialect.text_order(name).nulls_last(), agent_id]
    else:
        column = c.model_name if by == "model" else c.user_id
        key = source.dialect.text_order(column) if by == "model" else cast(column, String)
        keys, groups, tie = [column.label(_KEYS[by][0])], [column], [key.asc().nulls_last()]
    return [
        select(*keys, *_measures(source))
        .where(*where)
        .group_by(*groups)
        .order_by(cost.desc(), *tie)
    ]


def _record(source: Source, by: str, row: Any, total: Decimal) -> dict[str, Any]:
    cost = source.dialect.to_money(row["cost"])
    record = dict(row)
    if by == "day":
        record["day"] = record.pop("bucket")
    record.update(
        cost_usd=cost,
        cost_share=ratio(cost, total, 100),
        input_tokens=int(row["input_tokens"] or 0),
        output_tokens=int(row["output_tokens"] or 0),
        total_tokens=int(row["total_tokens"] or 0),
    )
    if by == "model":
        record["priced"] = is_priced(row["model"])
    if by == "agent":
        record["agent"] = row["agent_name"] or str(row["agent_id"])
    return record


def cost_summary(source: Source, window: Window, by: str) -> Table:
    """Cost by `by` ("model", "agent", "user" or "day") in the window.

    Columns: the key (model and priced / agent, agent_id, agent_name / user_id / day), then
    executions, input_tokens, output_tokens, total_tokens, cost_usd and cost_share (percent of
    the window's cost). Every day of the window is listed, empty ones with zeros.
    """
    if by not in COST_BY:
        raise InvalidInputError(f"by must be one of {', '.join(COST_BY)}; got {by!r}")
    with source.connect() as connection:
        rows = [r._mapping for q in _grouped(source, window, by) for r in connection.execute(q)]
    total = sum((source.dialect.to_money(r["cost"]) for r in rows), Decimal(0))
    records = [_record(source, by, row, total) for row in rows]
    frame = to_frame(
        records,
        [*_KEYS[by], *_MEASURES],
        times=("day",) if by == "day" else (),
        money=("cost_usd",),
        floats=("cost_share",),
    )
    notes: tuple[str, ...] = ()
    if by == "model" and (unpriced := unpriced_models([r["model"] for r in rows])):
        notes = (f"Unpriced models (their executions show $0): {', '.join(unpriced)}",)
    return Table(f"Cost by {by}", window, source.scope, frame, notes)
