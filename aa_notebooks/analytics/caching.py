"""Prompt caching per model: how much of the input came from the provider's cache, and what that
saved against paying the input rate for it.

The token counts are summed in SQL over the usage rows of the window's executions, per model
(whole hours and days from the cache rollup where the database has one);
the saving is then priced per model in Python from its rates (`pricing.price_source`): cache
reads cost the cache read rate instead of the input rate, cache writes the write rate (often
dearer: a negative saving). A database without the cache columns (the data contract's DDL) has
no rows here.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.sql.elements import ColumnElement

from aa_notebooks.analytics.filters import EXECUTIONS, TOKEN_USAGES, in_scope, in_window
from aa_notebooks.analytics.frames import to_frame
from aa_notebooks.analytics.periods import Window
from aa_notebooks.analytics.results import Table
from aa_notebooks.analytics.rollup_plan import ReadPlan
from aa_notebooks.analytics.rollup_source import (
    ROLLUP,
    in_spans,
    read_plan,
    rollup_scope,
    rollup_spans,
)
from aa_notebooks.analytics.source import Source
from aa_notebooks.db.schema import CacheRollupDay, CacheRollupHour, table_of
from aa_notebooks.pricing import price_source

COLUMNS = ["model", "input_tokens", "cache_read_tokens", "cache_write_tokens", "cache_hit_share",
           "saved_usd"]  # fmt: skip
TITLE = "Prompt caching by model"
MILLION = Decimal(1_000_000)
_CACHE_TABLES = (table_of(CacheRollupHour), table_of(CacheRollupDay))
NO_COLUMNS = (
    "this database's token usage has no cache columns (the data contract's DDL): run "
    "`aa-notebooks init-db` on the kit's own database to record them"
)


def cache_savings(source: Source, window: Window, *, exact: bool = False) -> Table:
    """Per model with usage rows in the window: input tokens, cache reads and writes, the share
    of input read from the cache (percent) and the USD saved by it (at the rates in force now).
    Whole hours and days come from the cache rollup where the database has it, unless `exact`."""
    if not source.has("tokenusages", "cache_read_tokens"):
        return Table(TITLE, window, source.scope, to_frame([], COLUMNS), (NO_COLUMNS,))
    with source.connect() as connection:
        plan = None if exact else read_plan(source, window, connection)
        if plan is None:
            sums = _raw_sums(source, in_window(window), connection)
        else:
            sums = _rollup_sums(source, plan, connection)
            if plan.raw:
                sums += _raw_sums(source, in_spans(EXECUTIONS.c.started_at, plan.raw), connection)
    merged: dict[str | None, list[int]] = {}
    for model, *counts in sums:
        total = merged.setdefault(model, [0, 0, 0])
        for position, count in enumerate(counts):
            total[position] += int(count or 0)
    records = [_record({"model": model, **dict(zip(COLUMNS[1:4], counts, strict=True))})
               for model, counts in merged.items()]  # fmt: skip
    records.sort(key=lambda r: (-r["saved_usd"], -r["input_tokens"], r["model"] or ""))
    table = Table(TITLE, window, source.scope, to_frame(records, COLUMNS, money=("saved_usd",)))
    return table if plan is None else replace(table, source=ROLLUP)


Sums = list[tuple[str | None, int, int, int]]
"""(model, input tokens, cache reads, cache writes) rows, a model possibly more than once."""


def _raw_sums(source: Source, started: ColumnElement[bool], connection: Connection) -> Sums:
    """The usage rows' sums per model for the executions that meet `started`."""
    usage = TOKEN_USAGES.c
    query = (
        select(
            usage.model,
            func.sum(usage.input_tokens),
            func.sum(usage.cache_read_tokens),
            func.sum(usage.cache_write_tokens),
        )
        .select_from(TOKEN_USAGES.join(EXECUTIONS, EXECUTIONS.c.id == usage.execution_id))
        .where(started, *in_scope(source))
        .group_by(usage.model)
    )
    return [tuple(row) for row in connection.execute(query)]


def _rollup_sums(source: Source, plan: ReadPlan, connection: Connection) -> Sums:
    """The cache rollup's sums per model over the plan's hours and days."""
    found: Sums = []
    for table, spans in rollup_spans(plan, _CACHE_TABLES):
        c = table.c
        query = (
            select(
                c.model,
                func.sum(c.input_tokens),
                func.sum(c.cache_read_tokens),
                func.sum(c.cache_write_tokens),
            )
            .where(in_spans(c.bucket, spans), *rollup_scope(source, table))
            .group_by(c.model)
        )
        found += [tuple(row) for row in connection.execute(query)]
    return found


def cache_figures(table: Table) -> tuple[float | None, Decimal | None]:
    """The whole window's cache hit share (percent of input tokens read from the cache) and
    saving, from `cache_savings`' table; (None, None) when the database has no cache columns,
    a share of None when there were no input tokens."""
    if table.notes:
        return None, None
    frame = table.frame
    total, read = int(frame["input_tokens"].sum()), int(frame["cache_read_tokens"].sum())
    saved = sum((Decimal(str(value)) for value in frame["saved_usd"]), Decimal(0))
    share = round(100 * read / total, 1) if total else None
    return share, saved.quantize(Decimal("0.000001"))


def _record(row: dict[str, Any]) -> dict[str, Any]:
    """One model's row: the counts as integers, the hit share and the saving priced."""
    total, read, write = (int(row[k] or 0) for k in COLUMNS[1:4])
    source = price_source(row["model"])
    saved = Decimal(0)
    if source is not None:
        rate = source.input_per_million
        read_rate = rate if source.cache_read_per_million is None else source.cache_read_per_million
        write_rate = (
            rate if source.cache_write_per_million is None else source.cache_write_per_million
        )
        saved = (read * (rate - read_rate) + write * (rate - write_rate)) / MILLION
    return {
        "model": row["model"],
        "input_tokens": total,
        "cache_read_tokens": read,
        "cache_write_tokens": write,
        "cache_hit_share": round(100 * read / total, 1) if total else 0.0,
        "saved_usd": saved.quantize(Decimal("0.000001")),
    }
