"""`cost_summary`: cost, tokens and executions by model, agent, user or day, with shares.

By model, costs and tokens come from the token usage rows (`model_split`): a tool call or
sub-agent on another model counts under that model. By agent, user and day they are the
executions' own. Every grouping reads the rollups where they hold the window (`rollup_source`,
`rollup_buckets`), with the same sums as the raw rows, which `exact` reads instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.sql.elements import ColumnElement

from aa_notebooks.analytics.buckets import bucket_bounds, per_bucket
from aa_notebooks.analytics.choices import COST_BY, CostBy, choose
from aa_notebooks.analytics.filters import EXECUTIONS, in_scope, in_window
from aa_notebooks.analytics.frames import ratio, to_frame
from aa_notebooks.analytics.model_split import (
    Model,
    Sums,
    execution_sums,
    split_by_model,
    split_notes,
    was_priced,
)
from aa_notebooks.analytics.pairs import Pair, agent_totals, totals
from aa_notebooks.analytics.periods import Window
from aa_notebooks.analytics.results import Table
from aa_notebooks.analytics.rollup_buckets import bucket_sums
from aa_notebooks.analytics.rollup_source import (
    RAW,
    ROLLUP,
    in_spans,
    read_plan,
    rollup_user_sums,
    window_sums,
)
from aa_notebooks.analytics.source import Source

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


def _raw_user_rows(
    source: Source, connection: Connection, started: ColumnElement[bool]
) -> list[dict[str, Any]]:
    """Executions, tokens and cost per user of the raw rows started as `started` says (in no
    order: `_one_per_user` sorts them)."""
    c = EXECUTIONS.c
    query = (
        select(c.user_id.label("user_id"), *_measures(source))
        .where(started, *in_scope(source))
        .group_by(c.user_id)
    )
    rows = [dict(row._mapping) for row in connection.execute(query)]
    for row in rows:
        row["cost"] = source.dialect.to_money(row["cost"])
    return rows


def _user_rows(source: Source, window: Window, exact: bool) -> tuple[list[dict[str, Any]], str]:
    """Cost per user: the rollups' sums where they hold the window (unless `exact`), the rest
    from the raw rows; and where they came from (RAW or ROLLUP)."""
    with source.connect() as connection:
        plan = None if exact else read_plan(source, window, connection)
        if plan is None:
            return _raw_user_rows(source, connection, in_window(window)), RAW
        rows = rollup_user_sums(source, plan, connection)
        if plan.raw:
            raw = in_spans(EXECUTIONS.c.started_at, plan.raw)
            rows += _raw_user_rows(source, connection, raw)
    return rows, ROLLUP


def _day_rows(source: Source, window: Window, exact: bool) -> tuple[list[dict[str, Any]], str]:
    """Cost per day, every day of the window (empty ones with zeros, days in order): the
    rollups' daily and hourly sums where they hold it (unless `exact`), the partial hours from
    the raw rows; and where they came from (RAW or ROLLUP)."""
    with source.connect() as connection:
        sums = None
        if not exact:
            sums = bucket_sums(source, window, "day", connection, counts=_DAY_COUNTS, by="whole")
        if sums is None:
            queries = per_bucket(window, "day", _measures(source), in_scope(source))
            rows = [dict(r._mapping) for query in queries for r in connection.execute(query)]
            for row in rows:
                row["cost"] = source.dialect.to_money(row["cost"])
            return rows, RAW
    rows = []
    for start, _, _ in bucket_bounds(window, "day"):
        counts, cost = totals(sums.pairs.get(start, []), _DAY_COUNTS)
        rows.append({
            "bucket": start, "executions": counts["executions"], "input_tokens": counts["input"],
            "output_tokens": counts["output"], "total_tokens": counts["tokens"], "cost": cost,
        })  # fmt: skip
    return rows, ROLLUP


_DAY_COUNTS = ("executions", "input", "output", "tokens")
"""The rollups' counts a day's row needs (besides its cost)."""


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
        record["priced"] = was_priced(row["model"], cost)
    if by == "agent":
        agent_id = row["agent_id"]
        record["agent"] = row["agent_name"] or (None if agent_id is None else str(agent_id))
    return record


def cost_summary(source: Source, window: Window, by: CostBy, *, exact: bool = False) -> Table:
    """Cost by `by` ("model", "agent", "user" or "day") in the window, from the rollups where
    they hold it; `exact` reads only the raw rows (the same sums).

    Columns: the key (model and priced / agent, agent_id, agent_name / user_id / day), then
    executions, input_tokens, output_tokens, total_tokens, cost_usd and cost_share (percent of
    the window's cost). Every day of the window is listed, empty ones with zeros. By model, see
    `model_split`: usage rows count under their own model, and an execution counts under its
    own model and each other model its usage rows name.
    """
    by = choose(by, COST_BY, "by")
    if by == "model":
        with source.connect() as connection:
            sums = window_sums(source, window, connection, percentiles=False, exact=exact)
        split = split_by_model(execution_sums(sums.pairs), sums.moved)
        return cost_by_model_from(source, window, split, sums.source)
    if by == "agent":
        with source.connect() as connection:
            sums = window_sums(
                source, window, connection, moved=False, percentiles=False, exact=exact
            )
        return _table(source, window, by, _agent_rows(sums.pairs), origin=sums.source)
    if by == "user":
        rows, origin = _user_rows(source, window, exact)
        return _table(source, window, by, _one_per_user(rows), origin=origin)
    rows, origin = _day_rows(source, window, exact)
    return _table(source, window, by, rows, origin=origin)


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


def cost_by_model_from(
    source: Source, window: Window, split: Mapping[Model, Sums], origin: str = RAW
) -> Table:
    """The cost by model table of the window's split (`model_split.split_by_model`); `origin`
    says where its sums came from (RAW or ROLLUP)."""
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
    return _table(source, window, "model", rows, split_notes(source, split.items()), origin)


def _table(
    source: Source,
    window: Window,
    by: CostBy,
    rows: list[dict[str, Any]],
    notes: tuple[str, ...] = (),
    origin: str = RAW,
) -> Table:
    """The Table of `rows` (keys, measures and cost as Decimal), with shares and `notes`;
    `origin` says where the sums came from (RAW or ROLLUP)."""
    total = sum((row["cost"] for row in rows), Decimal(0))
    records = [_record(by, row, total) for row in rows]
    frame = to_frame(
        records,
        [*_KEYS[by], *_MEASURES],
        times=("day",) if by == "day" else (),
        money=("cost_usd",),
        floats=("cost_share",),
    )
    return Table(f"Cost by {by}", window, source.scope, frame, notes, source=origin)
