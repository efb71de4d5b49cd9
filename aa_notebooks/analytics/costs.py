"""`cost_summary`: cost, tokens and executions by model, agent, user or day, with shares.

By model, costs and tokens come from the token usage rows (`model_split`): a tool call or
sub-agent on another model counts under that model. By agent, user and day they are the
executions' own.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import CompoundSelect, func, select
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from aa_notebooks.analytics.buckets import per_bucket
from aa_notebooks.analytics.choices import COST_BY, CostBy, choose
from aa_notebooks.analytics.filters import EXECUTIONS, in_scope, in_window
from aa_notebooks.analytics.frames import ratio, to_frame
from aa_notebooks.analytics.model_split import (
    Model,
    Sums,
    execution_sums,
    split_by_model,
    split_notes,
)
from aa_notebooks.analytics.pairs import Pair, agent_totals
from aa_notebooks.analytics.periods import Window
from aa_notebooks.analytics.results import Table
from aa_notebooks.analytics.rollup_source import window_sums
from aa_notebooks.analytics.source import Source
from aa_notebooks.pricing import is_priced

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


def _grouped(
    source: Source, window: Window, by: CostBy
) -> list[Select[Any] | CompoundSelect[*tuple[Any, ...]]]:
    """The aggregate queries for user (in no order: `_one_per_user` sorts them) or day (days in
    order)."""
    c = EXECUTIONS.c
    if by == "day":
        return list(per_bucket(window, "day", _measures(source), in_scope(source)))
    return [
        select(c.user_id.label("user_id"), *_measures(source))
        .where(in_window(window), *in_scope(source))
        .group_by(c.user_id)
    ]


def _record(by: CostBy, row: Mapping[str, Any], total: Decimal) -> dict[str, Any]:
    cost = row["cost"]
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
        agent_id = row["agent_id"]
        record["agent"] = row["agent_name"] or (None if agent_id is None else str(agent_id))
    return record


def cost_summary(source: Source, window: Window, by: CostBy) -> Table:
    """Cost by `by` ("model", "agent", "user" or "day") in the window.

    Columns: the key (model and priced / agent, agent_id, agent_name / user_id / day), then
    executions, input_tokens, output_tokens, total_tokens, cost_usd and cost_share (percent of
    the window's cost). Every day of the window is listed, empty ones with zeros. By model, see
    `model_split`: usage rows count under their own model, and an execution counts under its
    own model and each other model its usage rows name.
    """
    by = choose(by, COST_BY, "by")
    if by == "model":
        with source.connect() as connection:
            sums = window_sums(source, window, connection, percentiles=False)
        split = split_by_model(execution_sums(sums.pairs), sums.moved)
        return cost_by_model_from(source, window, split)
    if by == "agent":
        with source.connect() as connection:
            sums = window_sums(source, window, connection, moved=False, percentiles=False)
        return _table(source, window, by, _agent_rows(sums.pairs))
    with source.connect() as connection:
        rows = [
            dict(r._mapping) for q in _grouped(source, window, by) for r in connection.execute(q)
        ]
    for row in rows:
        row["cost"] = source.dialect.to_money(row["cost"])
    return _table(source, window, by, _one_per_user(rows) if by == "user" else rows)


def _one_per_user(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of one user summed into one: on SQLite, rows another program wrote may hold a
    user's id with dashes beside the kit's hex digits, and the query groups the stored text.
    Most expensive first, ties by id, no user last."""
    merged: dict[uuid.UUID | None, dict[str, Any]] = {}
    for row in rows:
        kept = merged.setdefault(row["user_id"], {**row, **dict.fromkeys(_SUMMED, 0)})
        for name in _SUMMED:
            kept[name] += row[name] or 0
    return sorted(merged.values(), key=_cost_then_user)


def _cost_then_user(row: dict[str, Any]) -> tuple[Decimal, bool, str]:
    user = row["user_id"]
    return (-row["cost"], user is None, "" if user is None else user.hex)


_SUMMED = ("executions", "input_tokens", "output_tokens", "total_tokens", "cost")


def _agent_rows(pairs: list[Pair]) -> list[dict[str, Any]]:
    """Cost per agent from the window's (agent, model) sums, most expensive first; ties by name
    (code point order, as the databases sort), then id."""
    agents = sorted(agent_totals(pairs), key=lambda agent: (-agent.cost, *agent.tie_order))
    return [
        {
            "agent_id": agent.agent_id,
            "agent_name": agent.agent_name,
            "executions": agent.counts["executions"],
            "input_tokens": agent.counts["input"],
            "output_tokens": agent.counts["output"],
            "total_tokens": agent.counts["tokens"],
            "cost": agent.cost,
        }
        for agent in agents
    ]


def cost_by_model_from(source: Source, window: Window, split: Mapping[Model, Sums]) -> Table:
    """The cost by model table of the window's split (`model_split.split_by_model`)."""
    rows: list[dict[str, Any]] = [
        {
            "model": model,
            "executions": sums.executions,
            "input_tokens": sums.input_tokens,
            "output_tokens": sums.output_tokens,
            "total_tokens": sums.total_tokens,
            "cost": sums.cost,
        }
        for model, sums in split.items()
    ]
    # Most expensive first; ties by model (code point order, as the databases sort), None last.
    rows.sort(key=lambda row: (-row["cost"], row["model"] is None, row["model"] or ""))
    return _table(source, window, "model", rows, split_notes(source, split.items()))


def _table(
    source: Source,
    window: Window,
    by: CostBy,
    rows: list[dict[str, Any]],
    notes: tuple[str, ...] = (),
) -> Table:
    """The Table of `rows` (keys, measures and cost as Decimal), with shares and `notes`."""
    total = sum((row["cost"] for row in rows), Decimal(0))
    records = [_record(by, row, total) for row in rows]
    frame = to_frame(
        records,
        [*_KEYS[by], *_MEASURES],
        times=("day",) if by == "day" else (),
        money=("cost_usd",),
        floats=("cost_share",),
    )
    return Table(f"Cost by {by}", window, source.scope, frame, notes)
