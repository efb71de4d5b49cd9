"""Hand-made executions and usage rows, and the rollup rows read back in plain form."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.rollups.sketch import Sketch
from aa_notebooks.db.schema import (
    CacheRollupDay,
    CacheRollupHour,
    ExecutionRollupDay,
    ExecutionRollupHour,
    LatencyRollupDay,
    LatencyRollupHour,
    RollupDirtyHour,
    TotalRollupDay,
    TotalRollupHour,
    UsageRollupDay,
    UsageRollupHour,
)
from aa_notebooks.tracking.record import ExecutionRecord

ALICE = uuid.UUID("a11ce000-0000-4000-8000-000000000001")
TABLES = {
    "hour": ExecutionRollupHour.__table__,
    "day": ExecutionRollupDay.__table__,
    "usage_hour": UsageRollupHour.__table__,
    "usage_day": UsageRollupDay.__table__,
    "latency_hour": LatencyRollupHour.__table__,
    "latency_day": LatencyRollupDay.__table__,
    "cache_hour": CacheRollupHour.__table__,
    "cache_day": CacheRollupDay.__table__,
    "totals_hour": TotalRollupHour.__table__,
    "totals_day": TotalRollupDay.__table__,
}
BOB = uuid.UUID("b0b00000-0000-4000-8000-000000000002")
SUMS = (
    "executions", "success_executions", "failure_executions", "timeout_executions",
    "time_count", "time_sum", "input_count", "input_tokens", "output_count",
    "output_tokens", "total_tokens", "cost_micro_usd",
)  # fmt: skip
"""A latency or total rollup row's sums, in the order `latency_sums` and `total_sums` give."""


def execution(
    started: datetime,
    *,
    agent: str = "researcher",
    model: str = "gpt-4o",
    status: str = "success",
    time_ms: int | None = 100,
    tokens: tuple[int, int] = (10, 5),
    cost: str = "0.001000",
    user_id: uuid.UUID | None = ALICE,
    usages: tuple[tuple[str, int, int, str], ...] = (),
) -> ExecutionRecord:
    """A finished execution started at `started` (naive UTC) with usage rows given as
    (model, input tokens, output tokens, cost)."""
    execution_id = uuid.uuid4()
    row = {
        "id": execution_id, "request_id": uuid.uuid4(), "session_id": uuid.uuid4(),
        "user_id": user_id, "agent_name": agent, "model_name": model,
        "status": status, "input_tokens": tokens[0], "output_tokens": tokens[1],
        "total_tokens": sum(tokens), "cost_usd": Decimal(cost), "execution_time_ms": time_ms,
        "started_at": started,
    }  # fmt: skip
    return ExecutionRecord(row, (), tuple(usage(execution_id, *u) for u in usages))


def usage(execution_id: uuid.UUID, model: str, given: int, produced: int, cost: str) -> dict:
    """One token usage row of an execution."""
    return {
        "id": uuid.uuid4(), "execution_id": execution_id, "component": "main_agent",
        "model": model, "input_tokens": given, "output_tokens": produced,
        "cost_usd": Decimal(cost),
    }  # fmt: skip


def attach(execution_id: uuid.UUID, *usages: tuple[str, int, int, str]) -> ExecutionRecord:
    """Usage rows that arrive later for an execution stored earlier."""
    return ExecutionRecord(
        {"id": execution_id}, (), tuple(usage(execution_id, *u) for u in usages), attach=True
    )


def execution_rollup(url: str, level: str = "hour") -> dict[tuple, tuple]:
    """(bucket, agent, model, status) -> (executions, time_count, time_sum, input, output,
    cost in micro-USD, latency values counted by the sketch)."""
    with get_engine(url).connect() as connection:
        rows = connection.execute(select(TABLES[level])).mappings().all()
    return {
        (_naive(r["bucket"]), r["agent_name"], r["model_name"], r["status"]): (
            r["executions"],
            r["time_count"],
            r["time_sum"],
            r["input_tokens"],
            r["output_tokens"],
            r["cost_micro_usd"],
            Sketch.decode([r["latency_sketch"]]).count,
        )
        for r in rows
    }


def usage_rollup(url: str, level: str = "usage_hour") -> dict[tuple, tuple]:
    """(bucket, row model, execution model) -> (executions, input, output, cost micro-USD)."""
    with get_engine(url).connect() as connection:
        rows = connection.execute(select(TABLES[level])).mappings().all()
    return {
        (_naive(r["bucket"]), r["row_model"], r["execution_model"]): (
            r["executions"],
            r["input_tokens"],
            r["output_tokens"],
            r["cost_micro_usd"],
        )
        for r in rows
    }


def latency_rollup(url: str, level: str = "latency_hour") -> dict[tuple, dict[int, int]]:
    """(bucket, agent, model) -> the sketch's counts per bucket key."""
    with get_engine(url).connect() as connection:
        rows = connection.execute(select(TABLES[level])).mappings().all()
    return {
        (_naive(r["bucket"]), r["agent_name"], r["model_name"]): Sketch.decode(
            [r["latency_sketch"]]
        ).counts
        for r in rows
    }


def latency_sums(url: str, level: str = "latency_hour") -> dict[tuple, tuple]:
    """(bucket, agent, model) -> (executions, successes, failures, timeouts, with a time, time
    sum, with input, input, with output, output, total tokens, cost in micro-USD)."""
    with get_engine(url).connect() as connection:
        rows = connection.execute(select(TABLES[level])).mappings().all()
    return {
        (_naive(r["bucket"]), r["agent_name"], r["model_name"]): tuple(r[n] for n in SUMS)
        for r in rows
    }


def total_sums(url: str, level: str = "totals_hour") -> dict[tuple, tuple]:
    """(bucket, user) -> the sums (SUMS) and the sketch's counts per bucket key."""
    with get_engine(url).connect() as connection:
        rows = connection.execute(select(TABLES[level])).mappings().all()
    return {
        (_naive(r["bucket"]), r["user_id"]): (
            *(r[n] for n in SUMS), Sketch.decode([r["latency_sketch"]]).counts,
        )
        for r in rows
    }  # fmt: skip


def cache_rollup(url: str, level: str = "cache_hour") -> dict[tuple, tuple]:
    """(bucket, model) -> (input tokens, cache reads, cache writes)."""
    with get_engine(url).connect() as connection:
        rows = connection.execute(select(TABLES[level])).mappings().all()
    return {
        (_naive(r["bucket"]), r["model"]): (
            r["input_tokens"],
            r["cache_read_tokens"],
            r["cache_write_tokens"],
        )
        for r in rows
    }


def dirty_hours(url: str) -> list[datetime]:
    """The hours marked as changed behind the rollups."""
    table = RollupDirtyHour.__table__
    with get_engine(url).connect() as connection:
        return sorted(_naive(h) for h in connection.execute(select(table.c.hour)).scalars())


def _naive(moment: Any) -> datetime:
    return moment.replace(tzinfo=None) if moment.tzinfo else moment
