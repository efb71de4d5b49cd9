"""A window's sums read from the rollups where they answer and the raw rows elsewhere, merged.

`window_sums` is what the overview, the breakdown, top agents and cost by model read: the
(agent, model) sums (`pairs`), the usage rows that cost by model moves (`model_split`) and the
latency percentiles. With rollups (the kit's own database, or one after `rollups enable`), whole
days and hours come from them and the rest of the window (`rollup_plan`) from the raw rows; sums
add, so counts, tokens and costs are exactly the raw ones. Percentiles stay exact (one more read
of the window's durations) up to EXACT_PERCENTILES_UP_TO executions; above, they come from the
merged latency sketches, within the sketches' relative accuracy, and the result says so.
`exact=True` reads everything raw (an audit).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

from sqlalchemy import (
    Connection,
    RowMapping,
    String,
    Table,
    and_,
    case,
    false,
    func,
    null,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.sql.elements import ColumnElement

from aa_notebooks.analytics.agent_names import with_newest_names
from aa_notebooks.analytics.dialect import NO_PERCENTILES as NONE
from aa_notebooks.analytics.dialect import PERCENTILE_FRACTIONS, Percentiles
from aa_notebooks.analytics.filters import EXECUTIONS, STATUSES, in_scope, in_window
from aa_notebooks.analytics.frames import rounded
from aa_notebooks.analytics.model_split import MovedUsage, load_moved_where
from aa_notebooks.analytics.pairs import COUNTS, Pair, load_pairs_where
from aa_notebooks.analytics.periods import Window
from aa_notebooks.analytics.rollup_plan import ReadPlan, Span, plan_window
from aa_notebooks.analytics.source import Source
from aa_notebooks.db.engine import BINARY_RESULTS
from aa_notebooks.db.rollups.dims import as_uuid
from aa_notebooks.db.rollups.record import STATUS_SUMS
from aa_notebooks.db.rollups.sketch import RELATIVE_ACCURACY, group_quantiles, key_of
from aa_notebooks.db.rollups.state import has_rollups
from aa_notebooks.db.schema import (
    ROLLUP_TABLES,
    LatencyRollupDay,
    LatencyRollupHour,
    RollupDirtyHour,
    TotalRollupDay,
    TotalRollupHour,
    UsageRollupDay,
    UsageRollupHour,
    table_of,
)

RAW, ROLLUP = "raw", "rollup"
EXACT_PERCENTILES_UP_TO = 100_000
"""Executions in a window up to which its percentiles are computed exactly from the raw rows."""
_USAGE_TABLES = (table_of(UsageRollupHour), table_of(UsageRollupDay))
_LATENCY_TABLES = (table_of(LatencyRollupHour), table_of(LatencyRollupDay))
_TOTAL_TABLES = (table_of(TotalRollupHour), table_of(TotalRollupDay))
_DIRTY = table_of(RollupDirtyHour)


def sketch_note(what: str) -> str:
    """The note a result carries when `what` came from the rollups' latency sketches."""
    return (
        f"{what} from the rollups' latency sketches, within {RELATIVE_ACCURACY:.0%} of exact "
        "(exact=True / --exact reads the raw rows)"
    )


@dataclass(frozen=True)
class WindowSums:
    """What the overview and the breakdown need of a window, and where it came from."""

    pairs: list[Pair]
    moved: list[MovedUsage]
    percentiles: Percentiles
    source: str
    """"rollup" when any part came from the rollups, else "raw"."""
    percentile_bound: float
    """The percentiles' relative bound: 0 when exact, else the sketches' accuracy."""
    plan: ReadPlan | None = None
    """How the rollups and raw rows were read (None: raw only), for a further rollup read."""


def window_sums(
    source: Source,
    window: Window,
    connection: Connection,
    *,
    moved: bool = True,
    percentiles: bool = True,
    exact: bool = False,
) -> WindowSums:
    """The window's (agent, model) sums, moved usage rows (unless `moved` is False) and
    latency percentiles (unless `percentiles` is False); `exact` reads only the raw rows."""
    plan = None if exact else read_plan(source, window, connection)
    if plan is None:
        pairs = load_pairs_where(source, in_window(window), connection)
        pairs = with_newest_names(source, connection, pairs, window.bounds()[1])
        latencies = exact_percentiles(source, window, connection) if percentiles else NONE
        found = window_moved(source, window, None, connection) if moved else []
        return WindowSums(pairs, found, latencies, RAW, 0.0)
    raw = in_spans(EXECUTIONS.c.started_at, plan.raw)
    pairs = merge_pairs([
        *(load_pairs_where(source, raw, connection) if plan.raw else []),
        *rollup_pairs(source, plan, connection),
    ])  # fmt: skip
    pairs = with_newest_names(source, connection, pairs, window.bounds()[1])
    if not percentiles:
        latencies, bound = NONE, 0.0
    elif sum(pair.counts["executions"] for pair in pairs) <= EXACT_PERCENTILES_UP_TO:
        latencies, bound = exact_percentiles(source, window, connection), 0.0
    else:
        latencies, bound = sketch_percentiles(source, plan, connection), RELATIVE_ACCURACY
    found = window_moved(source, window, plan, connection) if moved else []
    return WindowSums(pairs, found, latencies, ROLLUP, bound, plan)


def window_moved(
    source: Source, window: Window, plan: ReadPlan | None, connection: Connection
) -> list[MovedUsage]:
    """The window's usage rows of another model than their execution's, summed: from the
    rollups and the raw rows `plan` leaves (all raw rows without a plan)."""
    if plan is None:
        return load_moved_where(source, in_window(window), connection)
    raw = in_spans(EXECUTIONS.c.started_at, plan.raw)
    return merge_moved([
        *rollup_moved(source, plan, connection),
        *(load_moved_where(source, raw, connection) if plan.raw else []),
    ])  # fmt: skip


def read_plan(source: Source, window: Window, connection: Connection) -> ReadPlan | None:
    """How the rollups answer the window; None where they do not exist (or lack columns of this
    release: an earlier release's, until `init-db` or `rollups enable`) or hold none of it."""
    if not all(source.has(table) for table in ROLLUP_TABLES) or not has_rollups(connection):
        return None
    return plan_between(connection, *window.bounds())


def window_executions(source: Source, plan: ReadPlan, connection: Connection) -> int:
    """How many executions the plan's window holds: the rollups' counts and the raw spans'
    rows, without grouping either."""
    total = 0
    for table, spans in whole_spans(source, plan):
        query = select(func.sum(table.c.executions)).where(
            in_spans(table.c.bucket, spans), *rollup_scope(source, table)
        )
        total += connection.execute(query).scalar_one() or 0
    if plan.raw:
        raw = in_spans(EXECUTIONS.c.started_at, plan.raw)
        query = select(func.count()).where(raw, *in_scope(source))
        total += connection.execute(query).scalar_one()
    return int(total)


def plan_between(connection: Connection, lower: datetime, upper: datetime) -> ReadPlan | None:
    """How the rollups (known to exist) answer [lower, upper), given the hours marked as changed;
    None where they hold none of it."""
    hour = _DIRTY.c.hour
    dirty = connection.execute(select(hour).where(hour >= lower, hour < upper)).scalars()
    plan = plan_window(lower, upper, list(dirty))
    return plan if plan.uses_rollups else None


def in_spans(column: ColumnElement[Any], spans: Iterable[Span]) -> ColumnElement[bool]:
    """`column` inside any of the spans."""
    return or_(false(), *(and_(column >= start, column < end) for start, end in spans))


def as_stored(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A rollup's bucket or agent_id column as the driver returns it (SQLite's text, PostgreSQL's
    datetime or UUID), under its own name: rollup rows repeat a few buckets and agents, so `utc`
    and `agent_uuid` convert each distinct value once instead of once per row (a 90-day anomaly
    scan reads thousands of rows)."""
    if column.name not in ("bucket", "agent_id"):
        raise ValueError(f"{column.name} is not a rollup bucket or agent_id")
    return type_coerce(column, String()).label(column.name)


@lru_cache(maxsize=16_384)
def utc(stored: datetime | str) -> datetime:
    """A stored bucket start (a naive UTC datetime, or SQLite's text of one), aware (a driver's
    aware value stays as it is)."""
    moment = datetime.fromisoformat(stored) if isinstance(stored, str) else stored
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@lru_cache(maxsize=16_384)
def agent_uuid(stored: Any) -> uuid.UUID | None:
    """A stored agent_id as a UUID."""
    return as_uuid(stored)


def rollup_spans(plan: ReadPlan, tables: tuple[Table, Table]) -> list[tuple[Table, list[Span]]]:
    """The (hourly, daily) rollup tables with the spans the plan reads from each."""
    return [(table, spans) for table, spans in zip(tables, (plan.hours, plan.days), strict=True)
            if spans]  # fmt: skip


def latency_spans(plan: ReadPlan) -> list[tuple[Table, list[Span]]]:
    """The latency rollup tables with the spans the plan reads from each."""
    return rollup_spans(plan, _LATENCY_TABLES)


def whole_spans(source: Source, plan: ReadPlan) -> list[tuple[Table, list[Span]]]:
    """The rollup tables that answer figures of the source's whole window or bucket (counts,
    sums, one merged sketch), with the plan's spans: the totals, one row per user and bucket;
    the latency rollups for a source narrowed to an agent or a model, which the totals lack."""
    return rollup_spans(plan, _LATENCY_TABLES if source.narrowing else _TOTAL_TABLES)


def dimensions(table: Table) -> list[ColumnElement[Any]]:
    """A latency or total rollup's (agent_id, agent_name, model_name) as stored, NULL for the
    totals, which merge every agent and model."""
    if "agent_id" not in table.c:
        return [null().label(name) for name in ("agent_id", "agent_name", "model_name")]
    return [as_stored(table.c.agent_id), table.c.agent_name, table.c.model_name]


def rollup_scope(source: Source, table: Table) -> list[ColumnElement[bool]]:
    """The source's rows of a rollup table: its user's (no condition for all users), narrowed
    as the source is."""
    return source.scope_on(table)


def rollup_pairs(source: Source, plan: ReadPlan, connection: Connection) -> list[Pair]:
    """The rollups' (agent, model) sums over the plan's hours and days."""
    return [_pair(row) for row in _pair_rows(source, plan, connection, bucketed=False)]


def rollup_pairs_by_bucket(
    source: Source,
    plan: ReadPlan,
    connection: Connection,
    counts: Sequence[str] = COUNTS,
    *,
    by: SumsBy = "pair",
) -> list[tuple[datetime, Pair]]:
    """The rollups' sums over the plan's hours and days, per rollup row bucket (the start of
    its hour or day) and `by` (SumsBy); of the counts only those named in `counts`."""
    rows = _pair_rows(source, plan, connection, counts=counts, by=by)
    return [(utc(row["bucket"]), _pair(row, counts)) for row in rows]


_STATUS_COLUMNS = dict(zip(STATUSES, STATUS_SUMS, strict=True))
SumsBy = Literal["pair", "model", "whole"]
"""How rollup sums are grouped: per (agent, model), per model alone (agent left NULL), or not
at all ("whole": from the totals, one row per user and bucket, where they answer)."""


def _count_sums(table: Table) -> dict[str, ColumnElement[Any]]:
    """Each of COUNTS as a sum over a latency or total rollup table's rows."""
    c = table.c
    return {
        "executions": func.sum(c.executions),
        **{status: func.sum(c[column]) for status, column in _STATUS_COLUMNS.items()},
        "time_sum": func.sum(c.time_sum),
        "time_count": func.sum(c.time_count),
        "input": func.sum(c.input_tokens),
        "input_count": func.sum(c.input_count),
        "output": func.sum(c.output_tokens),
        "output_count": func.sum(c.output_count),
        "tokens": func.sum(c.total_tokens),
    }


def _pair_rows(
    source: Source,
    plan: ReadPlan,
    connection: Connection,
    *,
    bucketed: bool = True,
    counts: Sequence[str] = COUNTS,
    by: SumsBy = "pair",
) -> list[RowMapping]:
    """The rollups' sum rows per `by` (SumsBy), grouped by bucket too when `bucketed`: the
    cost and the counts named in `counts` (fewer sums make a lighter GROUP BY). They come from
    the latency rollups, which hold the sums per (user, agent, model) without status and flow,
    or for "whole" from the totals where they answer (`whole_spans`)."""
    found: list[RowMapping] = []
    for table, spans in whole_spans(source, plan) if by == "whole" else latency_spans(plan):
        c = table.c
        buckets = [as_stored(c.bucket)] if bucketed else []
        sums = _count_sums(table)
        nulls: list[ColumnElement[Any]] = [
            null().label(name) for name in ("agent_id", "by_name", "agent_name", "least_name")
        ]
        dims: list[ColumnElement[Any]]
        groups: list[ColumnElement[Any]]
        if "agent_id" not in c:  # the totals
            dims, groups = [*nulls, null().label("model_name")], []
        elif by == "pair":
            by_name = case((c.agent_id.is_(None), c.agent_name)).label("by_name")
            name = source.dialect.text_order(c.agent_name)
            agent_name, least_name = func.max(name).label("agent_name"), func.min(name)
            dims = [as_stored(c.agent_id), by_name, agent_name, least_name.label("least_name"),
                    c.model_name]  # fmt: skip
            groups = [c.agent_id, by_name, c.model_name]
        else:  # per model, or a narrowed source's whole bucket
            model = c.model_name if by == "model" else null().label("model_name")
            dims, groups = [*nulls, model], [model] if by == "model" else []
        query = (
            select(
                *buckets,
                *dims,
                *(sums[name].label(name) for name in counts),
                func.sum(c.cost_micro_usd).label("cost"),
            )
            .where(in_spans(c.bucket, spans), *rollup_scope(source, table))
            .group_by(*buckets, *groups)
        )
        found += connection.execute(query).mappings().all()
    return found


def _pair(row: RowMapping, counts: Sequence[str] = COUNTS) -> Pair:
    return Pair(
        agent_id=agent_uuid(row["agent_id"]),
        by_name=row["by_name"],
        agent_name=row["agent_name"],
        least_name=row["least_name"],
        model=row["model_name"],
        counts={name: int(row[name] or 0) for name in counts},
        cost=_money(row["cost"]),
    )


def rollup_user_sums(
    source: Source, plan: ReadPlan, connection: Connection
) -> list[dict[str, Any]]:
    """The rollups' executions, tokens and cost per user over the plan's hours and days (from
    the totals, one row per user and bucket, where they answer): rows of user_id (a UUID or
    None), executions, input_tokens, output_tokens, total_tokens and cost (Decimal)."""
    found: list[dict[str, Any]] = []
    for table, spans in whole_spans(source, plan):
        c = table.c
        query = (
            select(
                c.user_id.label("user_id"),
                func.sum(c.executions).label("executions"),
                func.sum(c.input_tokens).label("input_tokens"),
                func.sum(c.output_tokens).label("output_tokens"),
                func.sum(c.total_tokens).label("total_tokens"),
                func.sum(c.cost_micro_usd).label("cost"),
            )
            .where(in_spans(c.bucket, spans), *rollup_scope(source, table))
            .group_by(c.user_id)
        )
        found += [
            {
                "user_id": row["user_id"],
                **{name: int(row[name] or 0) for name in _USER_COUNTS},  # PostgreSQL: numeric
                "cost": _money(row["cost"]),
            }
            for row in connection.execute(query).mappings()
        ]
    return found


_USER_COUNTS = ("executions", "input_tokens", "output_tokens", "total_tokens")


def rollup_moved(source: Source, plan: ReadPlan, connection: Connection) -> list[MovedUsage]:
    """The usage rollups' moved rows over the plan's hours and days."""
    return [_moved(row) for row in _moved_rows(source, plan, connection, bucketed=False)]


def rollup_moved_by_bucket(
    source: Source, plan: ReadPlan, connection: Connection
) -> list[tuple[datetime, MovedUsage]]:
    """The usage rollups' moved rows over the plan's hours and days, per rollup row bucket."""
    return [(utc(row["bucket"]), _moved(row)) for row in _moved_rows(source, plan, connection)]


def _moved_rows(
    source: Source, plan: ReadPlan, connection: Connection, *, bucketed: bool = True
) -> list[RowMapping]:
    """The usage rollups' sum rows, grouped by bucket too when `bucketed`."""
    found: list[RowMapping] = []
    for table, spans in rollup_spans(plan, _USAGE_TABLES):
        c = table.c
        buckets = [as_stored(c.bucket)] if bucketed else []
        query = (
            select(
                *buckets,
                c.row_model,
                c.execution_model,
                func.sum(c.executions).label("executions"),
                func.sum(c.input_tokens).label("input"),
                func.sum(c.output_tokens).label("output"),
                func.sum(c.cost_micro_usd).label("cost"),
            )
            .where(in_spans(c.bucket, spans), *rollup_scope(source, table))
            .group_by(*buckets, c.row_model, c.execution_model)
        )
        found += connection.execute(query).mappings().all()
    return found


def _moved(row: RowMapping) -> MovedUsage:
    return MovedUsage(
        row_model=row["row_model"],
        execution_model=row["execution_model"],
        executions=int(row["executions"]),
        input_tokens=int(row["input"] or 0),
        output_tokens=int(row["output"] or 0),
        cost=_money(row["cost"]),
    )


def _money(micros: int | None) -> Decimal:
    return Decimal(int(micros or 0)).scaleb(-6)


def merge_pairs(pairs: Iterable[Pair]) -> list[Pair]:
    """Pairs of the same (agent, model) added up (the counts both hold: a pair may have been
    read with fewer)."""
    merged: dict[tuple[Any, ...], Pair] = {}
    for pair in pairs:
        key = (pair.agent_id, pair.by_name, pair.model)
        if (seen := merged.get(key)) is None:
            merged[key] = pair
            continue
        names = [name for name in (seen.agent_name, pair.agent_name) if name is not None]
        least = [name for name in (seen.least_name, pair.least_name) if name is not None]
        merged[key] = Pair(
            agent_id=pair.agent_id,
            by_name=pair.by_name,
            agent_name=max(names) if names else None,
            least_name=min(least) if least else None,
            model=pair.model,
            counts={
                name: count + pair.counts[name]
                for name, count in seen.counts.items()
                if name in pair.counts
            },
            cost=seen.cost + pair.cost,
        )
    return list(merged.values())


def merge_moved(moved: Iterable[MovedUsage]) -> list[MovedUsage]:
    """Moved rows of the same (row model, execution model) added up."""
    merged: dict[tuple[Any, ...], MovedUsage] = {}
    for rows in moved:
        key = (rows.row_model, rows.execution_model)
        seen = merged.get(key)
        merged[key] = rows if seen is None else MovedUsage(
            rows.row_model, rows.execution_model, seen.executions + rows.executions,
            seen.input_tokens + rows.input_tokens, seen.output_tokens + rows.output_tokens,
            seen.cost + rows.cost,
        )  # fmt: skip
    return list(merged.values())


def exact_percentiles(source: Source, window: Window, connection: Connection) -> Percentiles:
    """P50/P95/P99 of the window's execution times from the raw rows (the narrow index)."""
    c = EXECUTIONS.c
    query = select(source.dialect.latency_percentiles(c.execution_time_ms)).where(
        in_window(window), *in_scope(source)
    )
    return source.dialect.read_percentiles(connection.execute(query).scalar_one())


def sketch_percentiles(source: Source, plan: ReadPlan, connection: Connection) -> Percentiles:
    """P50/P95/P99 from the rollups' merged sketches and the raw spans' durations."""
    blobs: list[bytes] = []
    for table, spans in whole_spans(source, plan):
        query = select(table.c.latency_sketch).where(
            in_spans(table.c.bucket, spans), *rollup_scope(source, table)
        )
        query = query.execution_options(**{BINARY_RESULTS: True})
        blobs += connection.execute(query).scalars().all()
    added: list[int] = []
    if plan.raw:
        c = EXECUTIONS.c
        query = select(c.execution_time_ms).where(
            in_spans(c.started_at, plan.raw), c.execution_time_ms.is_not(None),
            *in_scope(source),
        )  # fmt: skip
        added = [key_of(value) for value in connection.execute(query).scalars()]
    values = group_quantiles({None: blobs}, {None: added}, PERCENTILE_FRACTIONS)[None]
    return Percentiles(*(None if value is None else rounded(value) for value in values))
