"""What differs between PostgreSQL and SQLite: percentiles, exact money sums, text order.

Both dialects give the same numbers to the last bit: P50/P95/P99 are continuous percentiles with
linear interpolation (PostgreSQL's `percentile_cont`), money is summed exactly in decimal, and
text sorts by code point.

SQLite has no percentile function. Measured at 1M executions (daily P95 over 30 days, 333-438K
rows): one window-function pass keeping only the needed ranks took 0.85-0.97 s; per-bucket
`ORDER BY ... LIMIT 2 OFFSET k` (pure SQL, exact) 0.11 s of CPU for P95 but twice the aggregate's
time for P50/P95/P99 over 7 days, plus a query for the counts; the registered aggregate below,
which sorts each group's values once and interpolates as `percentile_cont` does, 0.16 s of CPU
on top of the aggregate pass it shares. SQLite uses the aggregate.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple, TypeGuard

from sqlalchemy import Connection, Float, Integer, Numeric, cast, func, literal, literal_column
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression
from sqlalchemy.sql.functions import Function
from sqlalchemy.sql.operators import custom_op

from aa_notebooks.analytics.frames import rounded
from aa_notebooks.db import engine
from aa_notebooks.db.driver import driver_connection

PERCENTILE_FRACTIONS = (0.5, 0.95, 0.99)
MONEY_PLACES = 6
_MONEY_QUANTUM = Decimal(1).scaleb(-MONEY_PLACES)
_SQLITE_PERCENTILES = "aa_latency_percentiles"


class Percentiles(NamedTuple):
    """P50, P95 and P99 of a set of durations (None when the set is empty)."""

    p50: float | None
    p95: float | None
    p99: float | None


NO_PERCENTILES = Percentiles(None, None, None)


def quantize_money(value: Decimal) -> Decimal:
    """Money to 6 places, half up (as `calculate_cost` rounds)."""
    return value.quantize(_MONEY_QUANTUM, rounding=ROUND_HALF_UP)


def _rounded_percentiles(values: list[float]) -> Percentiles:
    return Percentiles(*(rounded(v) for v in values))


def interpolate(ordered: list[float], fraction: float) -> float:
    """The continuous percentile of sorted values, computed exactly as `percentile_cont` does."""
    position = fraction * (len(ordered) - 1)
    lower, upper = math.floor(position), math.ceil(position)
    low = float(ordered[lower])
    return low + (float(ordered[upper]) - low) * (position - lower)


def _null_free(values: list[float | None]) -> TypeGuard[list[float]]:
    """True when no value is NULL, so the list can be sorted and interpolated as it is."""
    return None not in values


class _SQLitePercentiles:
    """SQLite aggregate: [P50, P95, P99] of the numbers among the inputs (not NULL, nor text
    another program wrote in the column: a raised error would read as a broken database), as
    JSON (one sort per group)."""

    def __init__(self) -> None:
        self.values: list[float | None] = []
        # A bound C method as `step` keeps SQLite's per-row callback out of Python bytecode.
        self.step = self.values.append

    def finalize(self) -> str | None:
        values = self.values
        # a C-level scan: the common case (no NULL) skips the filter
        ordered = values if _null_free(values) else [v for v in values if v is not None]
        try:
            ordered.sort()
        except TypeError:  # text another program left in the number column ('', 'fast')
            ordered = sorted(v for v in ordered if isinstance(v, int | float))
        # sorted without an error: all numbers, or (a group of such text alone) no number
        if not ordered or not isinstance(ordered[0], int | float):
            return None
        return json.dumps([interpolate(ordered, f) for f in PERCENTILE_FRACTIONS])


class Dialect(ABC):
    """The SQL pieces that differ per database; one subclass per supported backend."""

    name: str

    @abstractmethod
    def prepare(self, connection: Connection) -> None:
        """Get a freshly checked-out connection ready for analytics queries."""

    @abstractmethod
    def latency_percentiles(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """An aggregate giving P50/P95/P99 of `column`; read it with `read_percentiles`."""

    @abstractmethod
    def read_percentiles(self, value: Any) -> Percentiles:
        """The value of a `latency_percentiles` column as Percentiles (rounded to 6 places)."""

    @abstractmethod
    def money(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """A NUMERIC(10,6) money column as read exactly; convert with `to_money`."""

    @abstractmethod
    def money_sum(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """An exact sum of a money column; convert with `to_money`."""

    @abstractmethod
    def to_money(self, value: Any) -> Decimal:
        """A value of a `money`/`money_sum` column as Decimal with 6 places (NULL is 0)."""

    def text_order(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """`column` for ORDER BY, sorting text by code point as both databases then agree."""
        return column

    def group_key(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """`column` for GROUP BY in a query that reads a time window."""
        return column


class PostgresDialect(Dialect):
    """PostgreSQL: `percentile_cont`, NUMERIC sums, the "C" collation for byte order."""

    name = "postgresql"

    def prepare(self, connection: Connection) -> None:
        # BEGIN READ ONLY: analytics never write, even to a database they may write to.
        connection.execution_options(postgresql_readonly=True)
        # JIT compiles for 100-200 ms, longer than these queries run (measured at 1M rows); a
        # lock another session holds fails the read after a while instead of hanging it.
        connection.exec_driver_sql(
            "SELECT set_config('jit', 'off', true), "
            f"set_config('lock_timeout', '{engine.READ_LOCK_TIMEOUT_S}s', true)"
        )

    def latency_percentiles(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        fractions: ColumnElement[Any] = literal_column(
            f"ARRAY{list(PERCENTILE_FRACTIONS)}::float8[]"
        )
        return func.percentile_cont(fractions, type_=ARRAY(Float)).within_group(column)

    def read_percentiles(self, value: Any) -> Percentiles:
        return NO_PERCENTILES if value is None else _rounded_percentiles(value)

    def money(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        return column

    def money_sum(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        # NUMERIC holds 'NaN' (another program's), which would make the whole sum NaN
        return func.sum(func.nullif(column, literal("NaN", Numeric())))

    def to_money(self, value: Any) -> Decimal:
        amount = Decimal(0 if value is None else value)
        return quantize_money(amount if amount.is_finite() else Decimal(0))

    def text_order(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        return column.collate("C")


class SQLiteDialect(Dialect):
    """SQLite: the registered percentile aggregate; money as whole micro-dollars (exact)."""

    name = "sqlite"

    def prepare(self, connection: Connection) -> None:
        raw = driver_connection(connection)
        raw.create_aggregate(_SQLITE_PERCENTILES, 1, _SQLitePercentiles)

    def latency_percentiles(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        return Function(_SQLITE_PERCENTILES, column)

    def read_percentiles(self, value: Any) -> Percentiles:
        return NO_PERCENTILES if value is None else _rounded_percentiles(json.loads(value))

    def money(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        # NUMERIC is stored as REAL: whole micro-dollars recover the exact decimal value.
        return cast(func.round(column * literal_column("1000000")), Integer)

    def money_sum(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.sum(self.money(column))

    def group_key(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        # After ANALYZE, SQLite groups by agent_id by skip-scanning its index, which reads the
        # table out of time order: 1.5x the CPU at 1M rows. A unary + keeps the window's index.
        return UnaryExpression(column, operator=custom_op("+"), type_=column.type)

    def to_money(self, value: Any) -> Decimal:
        micros = Decimal(0 if value is None else int(value))
        return quantize_money(micros.scaleb(-MONEY_PLACES))


def dialect_for(backend: str) -> Dialect:
    """The Dialect for a SQLAlchemy backend name ("postgresql" or "sqlite")."""
    return PostgresDialect() if backend == "postgresql" else SQLiteDialect()
