"""The write paths keep the rollups equal to the raw rows: hour and day boundaries, rows that
arrive late, usage rows attached to a stored execution, every path that inserts executions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
from sqlalchemy import func, select

from aa_notebooks.budgets.recording import record_execution
from aa_notebooks.db.engine import get_engine, session_factory
from aa_notebooks.db.records import AgentExecutionCreate
from aa_notebooks.db.repositories import AgentExecutionRepository, TokenUsageRepository
from aa_notebooks.db.rollups.check import check_rollups
from aa_notebooks.db.rollups.sketch import PAIR, Sketch, key_of
from aa_notebooks.db.schema import AgentExecution
from aa_notebooks.tracking.store import write_batch
from tests.db.rollups.helpers import (
    ALICE,
    BOB,
    TABLES,
    attach,
    cache_rollup,
    execution,
    execution_rollup,
    latency_rollup,
    latency_sums,
    total_sums,
    usage_rollup,
)

JUNE_1 = datetime(2024, 6, 1)
JUNE_2 = datetime(2024, 6, 2)


def at(hour: int, minute: int = 0, second: int = 0, micro: int = 0, day: int = 1) -> datetime:
    return datetime(2024, 6, day, hour, minute, second, micro)


def write_boundary_rows(url: str) -> None:
    """Five executions on both sides of an hour and of a day, in two batches written in an
    order other than their start times (the second batch arrives late)."""
    engine = get_engine(url)
    write_batch(engine, [
        execution(at(10, 59, 59, 900_000), time_ms=100, tokens=(10, 5), cost="0.001000"),
        execution(at(23, 59, 59), agent="writer", model="claude", time_ms=50,
                  tokens=(100, 50), cost="0.010000"),
    ])  # fmt: skip
    write_batch(engine, [
        execution(at(11), time_ms=300, tokens=(20, 10), cost="0.002500"),
        execution(at(11, 30), status="failure", time_ms=None, tokens=(1, 1), cost="0.000001"),
        execution(at(0, day=2), agent="writer", model="claude", time_ms=70, tokens=(1, 2),
                  cost="0.000003"),
    ])  # fmt: skip


def test_hours_and_days_hold_the_sums_across_boundaries(db_url: str) -> None:
    write_boundary_rows(db_url)
    # (executions, with a time, time sum, input, output, micro-USD, latencies in the sketch)
    assert execution_rollup(db_url, "hour") == {
        (at(10), "researcher", "gpt-4o", "success"): (1, 1, 100, 10, 5, 1000, 1),
        (at(11), "researcher", "gpt-4o", "success"): (1, 1, 300, 20, 10, 2500, 1),
        (at(11), "researcher", "gpt-4o", "failure"): (1, 0, 0, 1, 1, 1, 0),
        (at(23), "writer", "claude", "success"): (1, 1, 50, 100, 50, 10000, 1),
        (at(0, day=2), "writer", "claude", "success"): (1, 1, 70, 1, 2, 3, 1),
    }
    assert execution_rollup(db_url, "day") == {
        (JUNE_1, "researcher", "gpt-4o", "success"): (2, 2, 400, 30, 15, 3500, 2),
        (JUNE_1, "researcher", "gpt-4o", "failure"): (1, 0, 0, 1, 1, 1, 0),
        (JUNE_1, "writer", "claude", "success"): (1, 1, 50, 100, 50, 10000, 1),
        (JUNE_2, "writer", "claude", "success"): (1, 1, 70, 1, 2, 3, 1),
    }
    assert check_rollups(get_engine(db_url)).ok


def test_cache_tokens_of_every_usage_row_by_model(db_url: str) -> None:
    """Usage rows count under their own model and their execution's hour, its own model's rows
    too (unlike the moved-usage rollup); rows attached later join their execution's hour."""
    first = execution(
        at(9, 15), usages=(("gpt-4o", 100, 10, "0.0005"), ("claude", 40, 4, "0.0002"))
    )
    write_batch(
        get_engine(db_url),
        [first, execution(at(0, 30, day=2), model="claude", usages=(("claude", 7, 1, "0.0001"),))],
    )
    write_batch(get_engine(db_url), [attach(first.execution["id"], ("claude", 5, 1, "0.0001"))])
    assert cache_rollup(db_url, "cache_hour") == {
        (at(9), "gpt-4o"): (100, 0, 0),
        (at(9), "claude"): (45, 0, 0),
        (at(0, day=2), "claude"): (7, 0, 0),
    }
    assert cache_rollup(db_url, "cache_day") == {
        (at(0), "gpt-4o"): (100, 0, 0),
        (at(0), "claude"): (45, 0, 0),
        (at(0, day=2), "claude"): (7, 0, 0),
    }
    assert check_rollups(get_engine(db_url)).ok


def test_latency_sketches_leave_out_status_and_flow(db_url: str) -> None:
    """The 11:00 success (300 ms) and the 11:30 failure (no duration) share one latency row."""
    write_boundary_rows(db_url)
    assert latency_rollup(db_url, "latency_hour") == {
        (at(10), "researcher", "gpt-4o"): Sketch.of([100]).counts,
        (at(11), "researcher", "gpt-4o"): Sketch.of([300]).counts,
        (at(23), "writer", "claude"): Sketch.of([50]).counts,
        (at(0, day=2), "writer", "claude"): Sketch.of([70]).counts,
    }
    assert latency_rollup(db_url, "latency_day") == {
        (at(0), "researcher", "gpt-4o"): Sketch.of([100, 300]).counts,
        (at(0), "writer", "claude"): Sketch.of([50]).counts,
        (at(0, day=2), "writer", "claude"): Sketch.of([70]).counts,
    }


def test_latency_rows_hold_each_agent_and_models_sums_and_statuses(db_url: str) -> None:
    """The 11:00 success and 11:30 failure add up in one row, each status counted; the failure
    has no duration, so it counts in executions but not in the time count."""
    write_boundary_rows(db_url)
    engine = get_engine(db_url)
    write_batch(engine, [
        execution(at(11, 45), status="timeout", time_ms=900, tokens=(3, 0), cost="0.000040"),
    ])  # fmt: skip
    # (executions, success, failure, timeout, with a time, time sum, with input, input,
    #  with output, output, total tokens, micro-USD)
    assert latency_sums(db_url, "latency_hour") == {
        (at(10), "researcher", "gpt-4o"): (1, 1, 0, 0, 1, 100, 1, 10, 1, 5, 15, 1000),
        (at(11), "researcher", "gpt-4o"): (3, 1, 1, 1, 2, 1200, 3, 24, 3, 11, 35, 2541),
        (at(23), "writer", "claude"): (1, 1, 0, 0, 1, 50, 1, 100, 1, 50, 150, 10000),
        (at(0, day=2), "writer", "claude"): (1, 1, 0, 0, 1, 70, 1, 1, 1, 2, 3, 3),
    }
    assert latency_sums(db_url, "latency_day") == {
        (JUNE_1, "researcher", "gpt-4o"): (4, 2, 1, 1, 3, 1300, 4, 34, 4, 16, 50, 3541),
        (JUNE_1, "writer", "claude"): (1, 1, 0, 0, 1, 50, 1, 100, 1, 50, 150, 10000),
        (JUNE_2, "writer", "claude"): (1, 1, 0, 0, 1, 70, 1, 1, 1, 2, 3, 3),
    }
    assert check_rollups(engine).ok


def test_total_rows_hold_each_users_sums_statuses_and_sketch(db_url: str) -> None:
    """The totals merge every agent and model of a user per hour and day; another user's
    executions in the same hour have a row of their own."""
    write_boundary_rows(db_url)
    engine = get_engine(db_url)
    write_batch(engine, [
        execution(at(11, 45), status="timeout", time_ms=900, tokens=(3, 0), cost="0.000040"),
        execution(at(11, 50), agent="writer", model="claude", time_ms=40, tokens=(2, 2),
                  cost="0.000100", user_id=BOB),
    ])  # fmt: skip
    # (executions, success, failure, timeout, with a time, time sum, with input, input,
    #  with output, output, total tokens, micro-USD, sketch)
    assert total_sums(db_url, "totals_hour") == {
        (at(10), ALICE): (1, 1, 0, 0, 1, 100, 1, 10, 1, 5, 15, 1000, Sketch.of([100]).counts),
        (at(11), ALICE): (3, 1, 1, 1, 2, 1200, 3, 24, 3, 11, 35, 2541,
                          Sketch.of([300, 900]).counts),
        (at(11), BOB): (1, 1, 0, 0, 1, 40, 1, 2, 1, 2, 4, 100, Sketch.of([40]).counts),
        (at(23), ALICE): (1, 1, 0, 0, 1, 50, 1, 100, 1, 50, 150, 10000, Sketch.of([50]).counts),
        (at(0, day=2), ALICE): (1, 1, 0, 0, 1, 70, 1, 1, 1, 2, 3, 3, Sketch.of([70]).counts),
    }  # fmt: skip
    assert total_sums(db_url, "totals_day") == {
        (JUNE_1, ALICE): (5, 3, 1, 1, 4, 1350, 5, 134, 5, 66, 200, 13541,
                          Sketch.of([100, 300, 900, 50]).counts),
        (JUNE_1, BOB): (1, 1, 0, 0, 1, 40, 1, 2, 1, 2, 4, 100, Sketch.of([40]).counts),
        (JUNE_2, ALICE): (1, 1, 0, 0, 1, 70, 1, 1, 1, 2, 3, 3, Sketch.of([70]).counts),
    }  # fmt: skip
    assert check_rollups(engine).ok


def test_usage_rows_of_another_model_move_once_per_execution(db_url: str) -> None:
    engine = get_engine(db_url)
    first = execution(at(9, 15), usages=(
        ("gpt-4o", 100, 10, "0.000500"), ("claude", 40, 4, "0.000200"),
        ("claude", 60, 6, "0.000300"),
    ))  # fmt: skip
    write_batch(engine, [first])
    assert usage_rollup(db_url) == {(at(9), "claude", "gpt-4o"): (1, 100, 10, 500)}
    # An hour later, more rows for the same execution: a model it had, and a new one.
    later = attach(first.id, ("claude", 5, 5, "0.000010"), ("mistral", 7, 7, "0.000020"))
    write_batch(engine, [later])
    write_batch(engine, [later])  # the same rows again are stored, and counted, once
    expected = {
        (at(9), "claude", "gpt-4o"): (1, 105, 15, 510),
        (at(9), "mistral", "gpt-4o"): (1, 7, 7, 20),
    }
    assert usage_rollup(db_url) == expected
    assert usage_rollup(db_url, "usage_day") == {
        (JUNE_1, model, execution_model): sums
        for (_, model, execution_model), sums in expected.items()
    }
    assert check_rollups(engine).ok


def test_the_documents_recording_function_and_repositories_add_to_them(db_url: str) -> None:
    record_execution(
        db_url,
        AgentExecutionCreate(
            agent_name="support", model_name="gpt-4o", status="success", started_at=at(8, 5),
            input_tokens=3, output_tokens=4, total_tokens=7, cost_usd=Decimal("0.000070"),
            execution_time_ms=40,
        ),
    )  # fmt: skip
    with session_factory(db_url)() as session:
        stored = AgentExecutionRepository(session).create(
            {"agent_name": "support", "model_name": "gpt-4o", "status": "timeout",
             "started_at": at(8, 50), "execution_time_ms": 900, "cost_usd": Decimal("0.5")},
        )  # fmt: skip
        TokenUsageRepository(session).create(
            {"execution_id": stored.id, "component": "tool", "model": "claude",
             "input_tokens": 2, "output_tokens": 1, "cost_usd": Decimal("0.000004")},
        )  # fmt: skip
    assert execution_rollup(db_url) == {
        (at(8), "support", "gpt-4o", "success"): (1, 1, 40, 3, 4, 70, 1),
        (at(8), "support", "gpt-4o", "timeout"): (1, 1, 900, 0, 0, 500_000, 1),
    }
    assert usage_rollup(db_url) == {(at(8), "claude", "gpt-4o"): (1, 2, 1, 4)}
    assert check_rollups(get_engine(db_url)).ok


def test_runs_recorded_with_neither_time_are_filed_at_their_end(db_url: str) -> None:
    """The data contract's example gives the repository neither started_at nor completed_at:
    the database's default filled the start, so the rollups (given no start) left the runs out
    and the overview counted none; with no end, live views and `tail` never showed them. They
    are recorded as they end: completed now, started their duration before."""
    before = datetime.now(UTC)
    with session_factory(db_url)() as session:
        repository = AgentExecutionRepository(session)
        created = repository.create(
            AgentExecutionCreate(agent_name="support", model_name="gpt-4o", status="success",
                                 execution_time_ms=2400, cost_usd=Decimal("0.006")),
        )  # fmt: skip
        repository.bulk_insert(
            [{"id": uuid.uuid4(), "request_id": uuid.uuid4(), "session_id": uuid.uuid4(),
              "agent_name": "support", "status": "failure", "execution_time_ms": 500,
              "cost_usd": Decimal("0.001")}],
            validate=False,
        )  # fmt: skip
    after = datetime.now(UTC)
    with session_factory(db_url)() as session:
        stored = {
            run.execution_time_ms: (run.started_at, run.completed_at)
            for run in session.scalars(select(AgentExecution))
        }
    assert stored[2400][1] - stored[2400][0] == timedelta(milliseconds=2400)
    assert stored[500][1] - stored[500][0] == timedelta(milliseconds=500)
    assert all(before <= completed <= after for _, completed in stored.values())
    assert created.completed_at == stored[2400][1]
    hour = before.replace(minute=0, second=0, microsecond=0, tzinfo=None)
    rolled = execution_rollup(db_url)
    assert sum(counts[0] for counts in rolled.values()) == 2
    assert check_rollups(get_engine(db_url)).ok
    assert {key[0] for key in rolled} <= {hour, hour + timedelta(hours=1)}


def sketch_bytes(url: str, level: str) -> dict[str, int]:
    """agent -> the stored length of its latency sketch in a rollup with one row per agent."""
    table = TABLES[level]
    with get_engine(url).connect() as connection:
        query = select(table.c.agent_name, func.length(table.c.latency_sketch))
        return {agent: size for agent, size in connection.execute(query)}


def test_a_sketch_grown_past_its_bound_is_compacted_and_others_are_left_alone(
    db_url: str,
) -> None:
    """Each batch appends one (bucket, count) pair of 8 bytes per duration. With 8 durations a
    batch, 64 batches make 512 pairs (4,096 bytes, the bound, not past it); the 65th makes 520,
    which the upsert rewrites as 8 pairs; 5 more batches add 40."""
    engine = get_engine(db_url)
    durations = [10 * 2**power for power in range(8)]  # 8 distinct sketch buckets
    for _ in range(70):
        write_batch(engine, [execution(at(9, 30), time_ms=ms) for ms in durations])
    expected = {"researcher": 48 * 8}
    for level in ("hour", "day", "latency_hour", "latency_day"):
        assert sketch_bytes(db_url, level) == expected, level
    assert latency_rollup(db_url, "latency_hour") == {
        (at(9), "researcher", "gpt-4o"): {key_of(ms): 70 for ms in durations}
    }
    # Another agent's row of the same hour, made long behind the writer's back (599 pairs that
    # count nothing): a batch of the researcher's compacts only the rows it wrote (it holds
    # their locks, not this one's).
    write_batch(engine, [execution(at(9, 40), agent="writer", time_ms=5)])
    padding = np.array([(key_of(5), 0)] * 599, dtype=PAIR).tobytes()  # counts nothing
    hour = TABLES["hour"]
    with engine.begin() as connection:
        stored = connection.execute(
            select(hour.c.latency_sketch).where(hour.c.agent_name == "writer")
        ).scalar_one()
        connection.execute(
            hour.update()
            .where(hour.c.agent_name == "writer")
            .values(latency_sketch=bytes(stored) + padding)
        )
    write_batch(engine, [execution(at(9, 50), time_ms=ms) for ms in durations])
    assert sketch_bytes(db_url, "hour") == {"researcher": 56 * 8, "writer": 600 * 8}
    assert check_rollups(engine).ok
