"""Prompt caching per model: how much of the input came from the provider's cache, and what that
saved against paying the input rate for it.

The token counts are summed in SQL over the usage rows of the window's executions, per model;
the saving is then priced per model in Python from its rates (`pricing.price_source`): cache
reads cost the cache read rate instead of the input rate, cache writes the write rate (often
dearer: a negative saving). A database without the cache columns (the data contract's DDL) has
no rows here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from aa_notebooks.analytics.filters import EXECUTIONS, TOKEN_USAGES, in_scope, in_window
from aa_notebooks.analytics.frames import to_frame
from aa_notebooks.analytics.periods import Window
from aa_notebooks.analytics.results import Table
from aa_notebooks.analytics.source import Source
from aa_notebooks.pricing import price_source

COLUMNS = ["model", "input_tokens", "cache_read_tokens", "cache_write_tokens", "cache_hit_share",
           "saved_usd"]  # fmt: skip
TITLE = "Prompt caching by model"
MILLION = Decimal(1_000_000)
NO_COLUMNS = (
    "this database's token usage has no cache columns (the data contract's DDL): run "
    "`aa-notebooks init-db` on the kit's own database to record them"
)


def cache_savings(source: Source, window: Window) -> Table:
    """Per model with usage rows in the window: input tokens, cache reads and writes, the share
    of input read from the cache (percent) and the USD saved by it (at the rates in force now)."""
    if not source.has("tokenusages", "cache_read_tokens"):
        return Table(TITLE, window, source.scope, to_frame([], COLUMNS), (NO_COLUMNS,))
    usage = TOKEN_USAGES.c
    query = (
        select(
            usage.model,
            func.sum(usage.input_tokens).label("input_tokens"),
            func.coalesce(func.sum(usage.cache_read_tokens), 0).label("cache_read_tokens"),
            func.coalesce(func.sum(usage.cache_write_tokens), 0).label("cache_write_tokens"),
        )
        .select_from(TOKEN_USAGES.join(EXECUTIONS, EXECUTIONS.c.id == usage.execution_id))
        .where(in_window(window), *in_scope(source.user_id))
        .group_by(usage.model)
    )
    with source.connect() as connection:
        rows = [dict(row._mapping) for row in connection.execute(query)]
    records = [_record(row) for row in rows]
    records.sort(key=lambda r: (-r["saved_usd"], -r["input_tokens"], r["model"] or ""))
    return Table(TITLE, window, source.scope, to_frame(records, COLUMNS, money=("saved_usd",)))


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
