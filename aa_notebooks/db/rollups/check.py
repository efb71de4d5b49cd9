"""`check_rollups`: compare the stored rollups with what the raw rows give, day by day.

Every hourly and daily row of the rollups is recomputed from the raw tables (`raw`) and
compared column by column (its dimensions too: a reader groups by them), the latency sketch
bucket by bucket; a sketch that cannot be read is a difference. Hours the triggers marked as
changed behind the rollups (and the days holding them) are left out and counted instead:
readers already take them raw, and `rollups rebuild` repairs them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Table, select

from aa_notebooks.db.rollups.dims import day_of, utc_naive
from aa_notebooks.db.rollups.raw import (
    DAY,
    cache_rows,
    execution_rows,
    usage_rows,
)
from aa_notebooks.db.rollups.rebuild import DIRTY, data_span, days_holding_data
from aa_notebooks.db.rollups.record import (
    CACHE_DAY,
    CACHE_HOUR,
    CACHE_SUMS,
    EXECUTION_DAY,
    EXECUTION_HOUR,
    EXECUTION_SUMS,
    LATENCY_DAY,
    LATENCY_HOUR,
    LATENCY_SUMS,
    TOTAL_DAY,
    TOTAL_HOUR,
    USAGE_DAY,
    USAGE_HOUR,
    USAGE_SUMS,
    ExecutionSums,
    UsageSums,
)
from aa_notebooks.db.rollups.sketch import Sketch
from aa_notebooks.db.stored_uuid import StoredText
from aa_notebooks.errors import StoredValueError

SHOWN_DIFFERENCES = 20
"""How many differences the report lists (it counts them all)."""

Values = dict[str, Any]
"""A rollup row's compared values: the sums, and the sketch's counts under "latency_sketch"."""


@dataclass(frozen=True)
class RollupDifference:
    """One rollup row that does not match the raw rows."""

    table: str
    bucket: datetime
    dims: dict[str, Any]
    stored: Values | None
    raw: Values | None

    def __str__(self) -> str:
        where = ", ".join(f"{name}={value}" for name, value in self.dims.items())
        if self.stored is None:
            return f"{self.table} {self.bucket:%Y-%m-%d %H:%M} ({where}): missing"
        if self.raw is None:
            return f"{self.table} {self.bucket:%Y-%m-%d %H:%M} ({where}): no such raw rows"
        columns = [name for name in self.raw if self.stored.get(name) != self.raw[name]]
        changes = "; ".join(
            f"{name} stored {_shown(self.stored.get(name))}, raw {_shown(self.raw[name])}"
            for name in columns
        )
        return f"{self.table} {self.bucket:%Y-%m-%d %H:%M} ({where}): {changes}"


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return f"{sum(value.values())} values in {len(value)} buckets"
    return str(value)


@dataclass(frozen=True)
class CheckReport:
    """What `check_rollups` compared and found."""

    days: int
    rows: int
    differences: list[RollupDifference] = field(default_factory=list)
    dirty_hours: int = 0
    dirty_elsewhere: int = 0
    """Hours marked outside the compared days."""

    @property
    def ok(self) -> bool:
        """Whether every compared rollup row equals the raw rows."""
        return not self.differences

    def __str__(self) -> str:
        lines = [
            f"compared {self.rows:,} rollup rows over {self.days} day(s): "
            + ("all equal the raw rows" if self.ok else f"{len(self.differences)} differ")
        ]
        lines += [f"  {difference}" for difference in self.differences[:SHOWN_DIFFERENCES]]
        if len(self.differences) > SHOWN_DIFFERENCES:
            lines.append(f"  ... and {len(self.differences) - SHOWN_DIFFERENCES} more")
        if self.differences:
            first = min(difference.bucket for difference in self.differences)
            lines.append(
                f"run `aa-notebooks rollups rebuild --since {first:%Y-%m-%d}` to recompute them "
                "from the raw rows"
            )
        if self.dirty_hours:
            lines.append(
                f"{self.dirty_hours} hour(s) changed behind the rollups (rows inserted, updated "
                "or deleted by another program or plain SQL, or a traced run the OTLP ingest "
                "wrote again with its late spans) were not compared: analytics reads them raw "
                "until `aa-notebooks rollups rebuild`"
            )
        if self.dirty_elsewhere:
            lines.append(
                f"{self.dirty_elsewhere} more hour(s) outside these days changed behind the "
                "rollups and are read raw (slower) until `aa-notebooks rollups rebuild`, which "
                "recomputes them whatever its --since"
            )
        return "\n".join(lines)


def check_rollups(
    engine: Engine, since: datetime | None = None, until: datetime | None = None
) -> CheckReport:
    """Compare the rollups of the whole days from `since` to `until` (default: all data)."""
    with engine.connect() as connection:
        span = data_span(connection)
        if span is None:
            return CheckReport(0, 0)
        lower = span[0] if since is None else max(day_of(utc_naive(since)), span[0])
        upper = span[1]
        if until is not None:
            upper = min(day_of(utc_naive(until) - timedelta.resolution) + DAY, upper)
        dirty = {utc_naive(hour) for hour in connection.execute(select(DIRTY.c.hour)).scalars()}
        dirty_days = {day_of(hour) for hour in dirty}
        days = days_holding_data(connection, lower, upper)
        differences: list[RollupDifference] = []
        rows = 0
        for start, end in days:
            executions = execution_rows(connection, start, end)
            usage = usage_rows(connection, start, end)
            cache = cache_rows(connection, start, end)
            daily = executions.days()
            for table, expected in (
                (EXECUTION_HOUR, _execution_values(executions)),
                (EXECUTION_DAY, _execution_values(daily)),
                (LATENCY_HOUR, _latency_values(executions)),
                (LATENCY_DAY, _latency_values(daily)),
                (TOTAL_HOUR, _total_values(executions)),
                (TOTAL_DAY, _total_values(daily)),
                (USAGE_HOUR, _usage_values(usage)),
                (USAGE_DAY, _usage_values(usage.days())),
                (CACHE_HOUR, _usage_values(cache)),
                (CACHE_DAY, _usage_values(cache.days())),
            ):
                hourly = table in (EXECUTION_HOUR, LATENCY_HOUR, TOTAL_HOUR, USAGE_HOUR,
                                   CACHE_HOUR)  # fmt: skip
                skipped = dirty if hourly else dirty_days
                stored = _stored(connection, table, start, end)
                rows += len(stored)
                differences += _compare(table, stored, expected, skipped)
    window_dirty = sum(1 for hour in dirty if lower <= hour < upper)
    return CheckReport(len(days), rows, differences, window_dirty, len(dirty) - window_dirty)


Cell = tuple[datetime, str]
Entry = tuple[dict[str, Any], Values]
"""A rollup row's dimensions and its compared values."""


def _execution_values(sums: ExecutionSums) -> dict[Cell, Entry]:
    return _sketched_values(sums.rows(), EXECUTION_SUMS)


def _latency_values(sums: ExecutionSums) -> dict[Cell, Entry]:
    return _sketched_values(sums.latency_rows(), LATENCY_SUMS)


def _total_values(sums: ExecutionSums) -> dict[Cell, Entry]:
    return _sketched_values(sums.total_rows(), LATENCY_SUMS)


def _sketched_values(rows: list[dict[str, Any]], names: tuple[str, ...]) -> dict[Cell, Entry]:
    """Rows' sums called `names` and their sketch's counts, per cell."""
    found = {}
    for row in rows:
        values = {name: row[name] for name in names} | _compared_dims(row)
        values["latency_sketch"] = Sketch.decode([row["latency_sketch"]]).counts
        found[(row["bucket"], row["dims_key"])] = (_dims(row), values)
    return found


def _usage_values(sums: UsageSums) -> dict[Cell, Entry]:
    return {
        (row["bucket"], row["dims_key"]): (
            _dims(row),
            {name: row[name] for name in sums.SUMS} | _compared_dims(row),
        )
        for row in sums.rows()
    }


_DIM_COLUMNS = ("user_id", "agent_name", "model_name", "status", "flow_id", "row_model",
                "execution_model", "model")  # fmt: skip


def _dims(row: dict[str, Any]) -> dict[str, Any]:
    """The dimensions a reader recognises a row by (set ones only)."""
    return {name: row[name] for name in _DIM_COLUMNS if row.get(name) is not None}


def _compared_dims(row: dict[str, Any]) -> Values:
    """Every dimension of a rollup row, ids in one text form (another program's dashed text
    and the kit's UUID are the same id): a changed one moves sums to another group."""
    return {name: _one_form(row[name]) for name in (*_DIM_COLUMNS, "agent_id") if name in row}


def _one_form(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, StoredText):
        return value.replace("-", "").lower()
    return value


def _stored(
    connection: Connection, table: Table, lower: datetime, upper: datetime
) -> dict[Any, Any]:
    """The stored rows of [lower, upper) as (dims, values) per (bucket, dims_key)."""
    sums = [name for name in {*LATENCY_SUMS, *USAGE_SUMS, *CACHE_SUMS} if name in table.c]
    query = select(table).where(table.c.bucket >= lower, table.c.bucket < upper)
    found = {}
    for row in connection.execute(query).mappings():
        values: Values = {name: int(row[name]) for name in sums} | _compared_dims(dict(row))
        if "latency_sketch" in table.c:
            try:
                values["latency_sketch"] = Sketch.decode([row["latency_sketch"]]).counts
            except StoredValueError:
                values["latency_sketch"] = "unreadable"
        found[(utc_naive(row["bucket"]), row["dims_key"])] = (_dims(dict(row)), values)
    return found


def _compare(
    table: Table, stored: dict[Cell, Entry], expected: dict[Cell, Entry], skipped: set[datetime]
) -> list[RollupDifference]:
    differences = []
    for cell in sorted(stored.keys() | expected.keys()):
        if cell[0] in skipped:
            continue
        have, want = stored.get(cell), expected.get(cell)
        if have is not None and want is not None and have[1] == want[1]:
            continue
        dims = (have or want)[0]  # type: ignore[index]
        differences.append(
            RollupDifference(table.name, cell[0], dims, have and have[1], want and want[1])
        )
    return differences
