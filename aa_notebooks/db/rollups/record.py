"""Keep the rollups current as rows are written: `record_rollups`, in the writer's transaction.

Every write path that inserts executions or token usage rows calls `begin_writing` before its
INSERTs (so the marking triggers leave its rows alone) and `record_rollups` after them, in the
same transaction, with what it inserted. The new rows' sums go into their hour's and day's
rollup rows with one upsert per table (`+` for sums, `||` for sketches: a merge in SQL, so
concurrent writers never lose an increment and never read a row first). Rows are upserted in
key order, so writers on PostgreSQL lock them in one order. A stored sketch that grows past
COMPACT_BYTES is rewritten with one pair per bucket, under the row lock the upsert took.

Cost by model's rollup counts an execution once per model its usage rows name besides its own:
usage rows attached to an execution stored earlier are checked against the rows it already had.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any

from sqlalchemy import Connection, LargeBinary, Select, Table, bindparam, cast, func, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

from aa_notebooks.db.rollups.dims import as_uuid, day_of, dims_key, hour_of, utc_naive
from aa_notebooks.db.rollups.sketch import COMPACT_BYTES, Sketch, encode, key_of
from aa_notebooks.db.rollups.state import has_rollups
from aa_notebooks.db.rollups.triggers import VERSION_SETTING, WRITER_SETTING, WRITER_VERSION
from aa_notebooks.db.schema import (
    AgentExecution,
    CacheRollupDay,
    CacheRollupHour,
    ExecutionRollupDay,
    ExecutionRollupHour,
    ExecutionStatus,
    LatencyRollupDay,
    LatencyRollupHour,
    RollupWriting,
    TokenUsage,
    TotalRollupDay,
    TotalRollupHour,
    UsageRollupDay,
    UsageRollupHour,
    table_of,
)

EXECUTION_HOUR = table_of(ExecutionRollupHour)
EXECUTION_DAY = table_of(ExecutionRollupDay)
USAGE_HOUR = table_of(UsageRollupHour)
USAGE_DAY = table_of(UsageRollupDay)
LATENCY_HOUR = table_of(LatencyRollupHour)
LATENCY_DAY = table_of(LatencyRollupDay)
TOTAL_HOUR = table_of(TotalRollupHour)
TOTAL_DAY = table_of(TotalRollupDay)
CACHE_HOUR = table_of(CacheRollupHour)
CACHE_DAY = table_of(CacheRollupDay)
EXECUTIONS = table_of(AgentExecution)
USAGES = table_of(TokenUsage)
WRITING = table_of(RollupWriting)
EXECUTION_SUMS = (
    "executions", "time_count", "time_sum", "input_count", "input_tokens", "output_count",
    "output_tokens", "total_tokens", "cost_micro_usd",
)  # fmt: skip
STATUS_SUMS = tuple(f"{status.value}_executions" for status in ExecutionStatus)
"""The latency rollups' count of each status's executions (the execution rollups' status)."""
LATENCY_SUMS = (*EXECUTION_SUMS, *STATUS_SUMS)
USAGE_SUMS = ("executions", "input_tokens", "output_tokens", "cost_micro_usd")
CACHE_SUMS = ("input_tokens", "cache_read_tokens", "cache_write_tokens")
_STATUS_POSITIONS = {
    status.value: LATENCY_SUMS.index(name)
    for status, name in zip(ExecutionStatus, STATUS_SUMS, strict=True)
}
LATENCY_DIMS = ("user_id", "agent_id", "agent_name", "model_name")
TOTAL_DIMS = ("user_id",)
ROWS_PER_STATEMENT = 500
_MICRO = Decimal("0.000001")

_POSTGRES = PGDialect_psycopg()  # type: ignore[no-untyped-call]  # SQLAlchemy's dialect class

Cell = tuple[datetime, str]
"""(bucket, dims_key)"""


def micros(cost: Any) -> int:
    """A cost in USD as whole micro-dollars, rounded as NUMERIC(10,6) stores it."""
    if cost is None:
        return 0
    exact = cost if isinstance(cost, Decimal) else Decimal(str(cost))
    return int(exact.quantize(_MICRO, rounding=ROUND_HALF_UP).scaleb(6))


class ExecutionSums:
    """Rollup rows being added up: per (bucket, dims_key), the sums and a sketch."""

    def __init__(self) -> None:
        self.sums: dict[Cell, list[int]] = {}
        self.sketches: dict[Cell, dict[int, int]] = {}
        self.dims: dict[str, tuple[Any, ...]] = {}

    def add(self, bucket: datetime, dims: tuple[Any, ...], values: Sequence[int], key: int | None,
            sign: int = 1) -> None:  # fmt: skip
        """Add one execution's (or one group's) sums and latency bucket to a cell."""
        digest = dims_key(dims)
        self.dims[digest] = dims
        cell = (bucket, digest)
        sums = self.sums.get(cell)
        if sums is None:
            sums = self.sums[cell] = [0] * len(EXECUTION_SUMS)
            self.sketches[cell] = {}
        for position, value in enumerate(values):
            sums[position] += sign * value
        if key is not None:
            counts = self.sketches[cell]
            counts[key] = counts.get(key, 0) + sign

    def merge_sketch(self, bucket: datetime, dims: tuple[Any, ...], blob: bytes | None) -> None:
        """Merge a stored sketch into a cell that `add` made."""
        counts = self.sketches[(bucket, dims_key(dims))]
        for key, count in Sketch.decode([blob]).counts.items():
            counts[key] = counts.get(key, 0) + count

    def days(self) -> ExecutionSums:
        """The same sums per day."""
        daily = ExecutionSums()
        daily.dims = self.dims
        for (hour, digest), sums in self.sums.items():
            cell = (day_of(hour), digest)
            total = daily.sums.setdefault(cell, [0] * len(EXECUTION_SUMS))
            for position, value in enumerate(sums):
                total[position] += value
            counts = daily.sketches.setdefault(cell, {})
            for key, count in self.sketches[(hour, digest)].items():
                counts[key] = counts.get(key, 0) + count
        return daily

    def rows(self) -> list[dict[str, Any]]:
        """The cells as rollup rows, in key order."""
        rows = []
        for (bucket, digest), sums in sorted(self.sums.items()):
            user_id, agent_id, agent_name, model_name, status, flow_id = self.dims[digest]
            rows.append({
                "bucket": bucket, "dims_key": digest, "user_id": user_id, "agent_id": agent_id,
                "agent_name": agent_name, "model_name": model_name, "status": status,
                "flow_id": flow_id, **dict(zip(EXECUTION_SUMS, sums, strict=True)),
                "latency_sketch": encode(self.sketches[(bucket, digest)]),
            })  # fmt: skip
        return rows

    def latency_rows(self) -> list[dict[str, Any]]:
        """The cells merged per (bucket, user, agent, model), as latency rollup rows."""
        return self.status_rows(LATENCY_DIMS)

    def total_rows(self) -> list[dict[str, Any]]:
        """The cells merged per (bucket, user), as total rollup rows."""
        return self.status_rows(TOTAL_DIMS)

    def status_rows(self, names: tuple[str, ...]) -> list[dict[str, Any]]:
        """The cells merged per bucket and the first dimensions, `names`, in key order: sums
        added, each status's executions counted, sketches merged (a cell whose executions had
        no duration gives an empty sketch)."""
        width = len(names)
        merged: dict[Cell, tuple[list[int], dict[int, int]]] = {}
        dims: dict[str, tuple[Any, ...]] = {}
        for (bucket, digest), counts in self.sketches.items():
            kept, status = self.dims[digest][:width], self.dims[digest][4]
            key = dims_key(kept)
            dims[key] = kept
            found = merged.get((bucket, key))
            if found is None:
                found = merged[(bucket, key)] = ([0] * len(LATENCY_SUMS), {})
            sums, total = found
            cell_sums = self.sums[(bucket, digest)]
            for position, value in enumerate(cell_sums):
                sums[position] += value
            if status in _STATUS_POSITIONS:
                sums[_STATUS_POSITIONS[status]] += cell_sums[0]
            for bucket_key, count in counts.items():
                total[bucket_key] = total.get(bucket_key, 0) + count
        return [
            {"bucket": bucket, "dims_key": key, **dict(zip(names, dims[key], strict=True)),
             **dict(zip(LATENCY_SUMS, sums, strict=True)), "latency_sketch": encode(counts)}
            for (bucket, key), (sums, counts) in sorted(merged.items())
        ]  # fmt: skip


def execution_dims(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """(user_id, agent_id, agent_name, model_name, status, flow_id) of an execution row."""
    status = row.get("status")
    return (
        as_uuid(row.get("user_id")),
        as_uuid(row.get("agent_id")),
        row.get("agent_name"),
        row.get("model_name"),
        None if status is None else str(getattr(status, "value", status)),
        row.get("flow_id"),
    )


def execution_values(row: Mapping[str, Any]) -> list[int]:
    """An execution's contribution to EXECUTION_SUMS."""
    time, given_in, given_out = (row.get(n) for n in ("execution_time_ms", "input_tokens",
                                                      "output_tokens"))  # fmt: skip
    return [
        1,
        time is not None,
        time or 0,
        given_in is not None,
        given_in or 0,
        given_out is not None,
        given_out or 0,
        row.get("total_tokens") or 0,
        micros(row.get("cost_usd")),
    ]


class UsageSums:
    """Moved usage being added up: per (bucket, dims_key) of (user, row model, execution
    model), executions, tokens and cost."""

    DIMS: tuple[str, ...] = ("user_id", "row_model", "execution_model")
    SUMS: tuple[str, ...] = USAGE_SUMS

    def __init__(self) -> None:
        self.sums: dict[Cell, list[int]] = {}
        self.dims: dict[str, tuple[Any, ...]] = {}

    def add(self, bucket: datetime, dims: tuple[Any, ...], values: Sequence[int]) -> None:
        digest = dims_key(dims)
        self.dims[digest] = dims
        sums = self.sums.setdefault((bucket, digest), [0] * len(self.SUMS))
        for position, value in enumerate(values):
            sums[position] += value

    def days(self) -> UsageSums:
        daily = type(self)()
        daily.dims = self.dims
        for (hour, digest), sums in self.sums.items():
            total = daily.sums.setdefault((day_of(hour), digest), [0] * len(self.SUMS))
            for position, value in enumerate(sums):
                total[position] += value
        return daily

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "bucket": bucket,
                "dims_key": digest,
                **dict(zip(self.DIMS, self.dims[digest], strict=True)),
                **dict(zip(self.SUMS, sums, strict=True)),
            }
            for (bucket, digest), sums in sorted(self.sums.items())
        ]


class CacheSums(UsageSums):
    """Every usage row's input and prompt-cache tokens being added up, per (bucket, dims_key)
    of (user, model)."""

    DIMS = ("user_id", "model")
    SUMS = CACHE_SUMS


def begin_writing(connection: Connection) -> None:
    """Tell the marking triggers that this transaction's INSERTs reach the rollups by
    `record_rollups` (which ends it): PostgreSQL a transaction-local setting, SQLite a row
    in rollup_writing, invisible to others since SQLite runs one writer at a time."""
    if not has_rollups(connection):
        return
    if connection.dialect.name == "postgresql":
        connection.execute(
            select(
                func.set_config(WRITER_SETTING, "on", True),
                func.set_config(VERSION_SETTING, str(WRITER_VERSION), True),
            )
        )
    else:
        connection.execute(WRITING.delete())
        connection.execute(WRITING.insert().values(id=WRITER_VERSION))


def end_writing(connection: Connection) -> None:
    """Later INSERTs in this transaction are marked again."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            select(
                func.set_config(WRITER_SETTING, "", True),
                func.set_config(VERSION_SETTING, "", True),
            )
        )
    else:
        connection.execute(WRITING.delete())


Owner = tuple[Any, Any, datetime]
"""An execution's (user_id, model_name, start hour)."""


def record_rollups(
    connection: Connection,
    executions: Sequence[Mapping[str, Any]] = (),
    usages: Sequence[Mapping[str, Any]] = (),
    attached: Sequence[Mapping[str, Any]] = (),
    *,
    parents: Sequence[Any] | None = None,
) -> None:
    """Add newly inserted rows to the rollups, in the caller's transaction.

    `executions`: execution rows just inserted; `usages`: the usage rows of those executions
    (all of them), `parents` each one's execution id where the rows leave it out (a Run's);
    `attached`: usage rows just inserted for executions stored earlier. Nothing happens where
    the database has no rollups.
    """
    if not has_rollups(connection):
        return
    end_writing(connection)
    if not (executions or usages or attached):
        return
    hourly = ExecutionSums()
    owners: dict[Any, Owner] = {}
    for row in executions:
        started = row.get("started_at")
        if started is None:
            continue
        hour = hour_of(utc_naive(started))
        time = row.get("execution_time_ms")
        hourly.add(hour, execution_dims(row), execution_values(row),
                   None if time is None else key_of(time))  # fmt: skip
        owners[row["id"]] = (as_uuid(row.get("user_id")), row.get("model_name"), hour)
    moved, cache = UsageSums(), CacheSums()
    if parents is None:
        parents = [row.get("execution_id") for row in usages]
    _add_moved(moved, owners, parents, usages, {})
    _add_cache(cache, owners, parents, usages)
    if attached:
        attached_parents = [row["execution_id"] for row in attached]
        ids = set(attached_parents) - {None}
        stored_owners, earlier = _stored(connection, ids, {row["id"] for row in attached})
        _add_moved(moved, stored_owners, attached_parents, attached, earlier)
        _add_cache(cache, stored_owners, attached_parents, attached)
    upsert_all(connection, hourly, moved, cache)


def upsert_all(
    connection: Connection, hourly: ExecutionSums, moved: UsageSums, cache: CacheSums
) -> tuple[int, int]:
    """Add hourly sums to every rollup (hour and day; executions, latency, totals, moved usage
    and cache tokens); returns how many hourly and daily execution rollup rows that touched."""
    daily = hourly.days()
    hour_rows, day_rows = hourly.rows(), daily.rows()
    upsert_executions(connection, EXECUTION_HOUR, hour_rows)
    upsert_executions(connection, EXECUTION_DAY, day_rows)
    upsert_latency(connection, LATENCY_HOUR, hourly.latency_rows())
    upsert_latency(connection, LATENCY_DAY, daily.latency_rows())
    upsert_latency(connection, TOTAL_HOUR, hourly.total_rows())
    upsert_latency(connection, TOTAL_DAY, daily.total_rows())
    upsert_usage(connection, USAGE_HOUR, moved.rows())
    upsert_usage(connection, USAGE_DAY, moved.days().rows())
    upsert_usage(connection, CACHE_HOUR, cache.rows(), CACHE_SUMS)
    upsert_usage(connection, CACHE_DAY, cache.days().rows(), CACHE_SUMS)
    return len(hour_rows), len(day_rows)


def _add_moved(
    moved: UsageSums,
    owners: Mapping[Any, Owner],
    parents: Iterable[Any],
    usages: Iterable[Mapping[str, Any]],
    earlier: Mapping[Any, set[Any]],
) -> None:
    """Add the usage rows whose model is not their execution's (`parents`: each row's
    execution id); an execution counts once per row model, unless it had a row of that model
    before (`earlier`)."""
    counted: set[tuple[Any, Any]] = set()
    for parent, row in zip(parents, usages, strict=True):
        owner = owners.get(parent)
        if owner is None:
            continue
        user_id, model_name, hour = owner
        model = row.get("model")
        if model == model_name:
            continue
        seen = (parent, model)
        first = seen not in counted and model not in earlier.get(parent, ())
        counted.add(seen)
        moved.add(hour, (user_id, model, model_name), [
            int(first), row.get("input_tokens") or 0, row.get("output_tokens") or 0,
            micros(row.get("cost_usd")),
        ])  # fmt: skip


def _add_cache(
    cache: CacheSums,
    owners: Mapping[Any, Owner],
    parents: Iterable[Any],
    usages: Iterable[Mapping[str, Any]],
) -> None:
    """Add every usage row's input and cache tokens under its execution's user and hour (summed
    per cell here first: a batch has a few cells and thousands of rows)."""
    cells: dict[tuple[Any, ...], list[int]] = {}
    for parent, row in zip(parents, usages, strict=True):
        owner = owners.get(parent)
        if owner is None:
            continue
        key = (owner[2], owner[0], row.get("model"))
        sums = cells.get(key)
        if sums is None:
            sums = cells[key] = [0, 0, 0]
        sums[0] += row.get("input_tokens") or 0
        sums[1] += row.get("cache_read_tokens") or 0
        sums[2] += row.get("cache_write_tokens") or 0
    for (hour, user_id, model), sums in cells.items():
        cache.add(hour, (user_id, model), sums)


def _stored(
    connection: Connection, ids: set[Any], new_rows: set[Any]
) -> tuple[dict[Any, Owner], dict[Any, set[Any]]]:
    """Executions stored earlier: their owner, and the models of their other usage rows."""
    if not ids:
        return {}, {}
    e, u = EXECUTIONS.c, USAGES.c
    owners = {
        row.id: (row.user_id, row.model_name, hour_of(utc_naive(row.started_at)))
        for row in connection.execute(
            select(e.id, e.user_id, e.model_name, e.started_at).where(
                e.id.in_(ids), e.started_at.is_not(None)
            )
        )
    }
    earlier: dict[Any, set[Any]] = defaultdict(set)
    query = select(u.execution_id, u.model).where(u.execution_id.in_(ids), u.id.not_in(new_rows))
    for execution_id, model in connection.execute(query):
        earlier[execution_id].add(model)
    return owners, earlier


@cache
def _upsert_statement(dialect_name: str, table: Table, sums: tuple[str, ...], sketch: bool) -> Any:
    """INSERT ... ON CONFLICT that adds `sums` and, with `sketch`, merges the latency sketch
    (built once: its `excluded` columns cost about a millisecond to set up)."""
    c = table.c
    insert = (postgresql if dialect_name == "postgresql" else sqlite).insert(table)
    added: dict[str, Any] = {name: c[name] + insert.excluded[name] for name in sums}
    if sketch:
        added["latency_sketch"] = cast(
            c.latency_sketch.op("||")(insert.excluded.latency_sketch), LargeBinary
        )
    return insert.on_conflict_do_update(index_elements=[c.bucket, c.dims_key], set_=added)


@cache
def _postgres_sql(table: Table, sums: tuple[str, ...], sketch: bool, keys: tuple[str, ...]) -> str:
    """The upsert as psycopg's SQL, every value cast to its column's type."""
    statement = _upsert_statement("postgresql", table, sums, sketch)
    return str(statement.compile(dialect=_POSTGRES, column_keys=list(keys)))


def _upsert(
    connection: Connection,
    table: Table,
    rows: list[dict[str, Any]],
    sums: Sequence[str],
    *,
    sketch: bool = False,
) -> None:
    """Run the upsert for every row. On PostgreSQL the driver sends one prepared statement for
    all rows in a pipeline: SQLAlchemy's many-row VALUES made psycopg parse every page of
    thousands of parameters anew (9.5 of 21 s rebuilding 15 days at 1M executions)."""
    if connection.dialect.name == "postgresql":
        sql = _postgres_sql(table, tuple(sums), sketch, tuple(rows[0]))
        connection.exec_driver_sql(sql, rows)  # a list of dicts: the driver's executemany
    else:
        connection.execute(_upsert_statement("sqlite", table, tuple(sums), sketch), rows)


def _compact_long(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Compact the sketches of these rows that grew past COMPACT_BYTES (rows this transaction
    upserted, so it holds their locks; others' rows in the same buckets are left alone)."""
    ours = {(row["bucket"], row["dims_key"]) for row in rows}
    buckets = sorted({bucket for bucket, _ in ours})
    bounds = {"buckets": buckets, "longest": COMPACT_BYTES}
    found = connection.execute(_long_sketches(table), bounds)
    long = [(bucket, digest) for bucket, digest in found if (utc_naive(bucket), digest) in ours]
    if long:
        compact(connection, table, long)


@cache
def _long_sketches(table: Table) -> Select[Any]:
    """The cells of some buckets whose sketch is longer than some bytes (`buckets` and `longest`,
    bound at execution); built once, as every batch of the writer runs it for six tables."""
    c = table.c
    return select(c.bucket, c.dims_key).where(
        c.bucket.in_(bindparam("buckets", expanding=True)),
        func.length(c.latency_sketch) > bindparam("longest"),
    )


def upsert_executions(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Add rows to an executions rollup; compact the sketches that grew long."""
    if not rows:
        return
    _upsert(connection, table, rows, EXECUTION_SUMS, sketch=True)
    _compact_long(connection, table, rows)


def upsert_latency(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Add rows to a latency or total rollup (sums `+`, sketches `||`); compact the sketches
    that grew long."""
    if not rows:
        return
    _upsert(connection, table, rows, LATENCY_SUMS, sketch=True)
    _compact_long(connection, table, rows)


def compact(connection: Connection, table: Table, cells: Sequence[tuple[datetime, str]]) -> None:
    """Rewrite these rows' sketches with one pair per bucket (same counts, shorter)."""
    c = table.c
    for first in range(0, len(cells), ROWS_PER_STATEMENT):
        chunk = cells[first : first + ROWS_PER_STATEMENT]
        query = select(c.bucket, c.dims_key, c.latency_sketch).where(
            tuple_(c.bucket, c.dims_key).in_(chunk)
        )
        for bucket, digest, blob in connection.execute(query).all():
            connection.execute(
                table.update()
                .where(c.bucket == bucket, c.dims_key == digest)
                .values(latency_sketch=Sketch.decode([blob]).encode())
            )


def upsert_usage(
    connection: Connection,
    table: Table,
    rows: list[dict[str, Any]],
    sums: Sequence[str] = USAGE_SUMS,
) -> None:
    """Add rows to a usage or cache rollup, `sums` being its summed columns."""
    if rows:
        _upsert(connection, table, rows, sums)
