"""`write_batch` stores records exactly as built (timestamps of any zone as UTC), once per
execution id, and counts each new execution's spend once; records survive the spool's JSON form
unchanged."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from aa_notebooks.budgets import check_budget, create_budget
from aa_notebooks.db.engine import get_engine
from aa_notebooks.errors import InvalidInputError
from aa_notebooks.tracking.record import ExecutionRecord
from aa_notebooks.tracking.run import Run
from aa_notebooks.tracking.store import write_batch
from tests.tracking.conftest import counts, executions, steps, usages

ALICE = uuid.UUID("a11ce000-0000-4000-8000-000000000001")


def make_record(agent: str = "researcher", **fields: object) -> ExecutionRecord:
    """A finished record with two steps and one usage costing $0.006000 (gpt-4o 1200/300)."""
    run = Run(agent_name=agent, model="gpt-4o", query='say "hi" <b>', **fields)
    run.step("thought", "plan: ünïcode ✓", duration_ms=12, input_tokens=7, output_tokens=3)
    run.step("final_answer", None, duration_ms=5)
    run.tokens("main_agent", "gpt-4o", 1200, 300, step_number=1)
    return run.finish()


def test_rows_are_stored_as_built(db_url: str) -> None:
    record = make_record(user_id=ALICE, session_id="s-1", flow_id="support")
    assert write_batch(get_engine(db_url), [record]).inserted == 1
    [row] = executions(db_url)
    assert {k: (v.value if hasattr(v, "value") else v) for k, v in row.items()} == record.execution
    stored_steps = [{k: (v.value if hasattr(v, "value") else v) for k, v in s.items()}
                    for s in steps(db_url, record.id)]  # fmt: skip
    stored_usages = usages(db_url, record.id)
    assert [_without_ids(s) for s in stored_steps] == [
        {"parent_step": None, "depth": None, **t} for t in record.traces
    ]  # the kit's nesting columns, filled only by trace ingest
    assert [_without_ids(u) for u in stored_usages] == [
        {"cache_read_tokens": None, "cache_write_tokens": None, **u} for u in record.usages
    ]
    # A Run's steps and usages get their ids as they are written: new, time-ordered, theirs.
    given = [row["id"] for row in stored_steps + stored_usages]
    assert len(set(given)) == 3 and all(isinstance(i, uuid.UUID) and i.version == 7 for i in given)
    assert {row["execution_id"] for row in stored_steps + stored_usages} == {record.id}


def _without_ids(row: dict) -> dict:
    """A stored child row without the ids the writer gave it (a Run's rows carry none)."""
    return {k: v for k, v in row.items() if k not in ("id", "execution_id")}


def test_a_batch_mixes_rows_with_and_without_ids(db_url: str) -> None:
    """Records whose steps and usages carry their own ids (trace ingest, older spooled records)
    and a Run's, which carry none, in one batch: each keeps or gets ids, under its execution;
    one written again later (a replayed spool line) adds nothing."""
    numbered = make_record("ingested")
    step_ids = [uuid.uuid4(), uuid.uuid4()]
    usage_id = uuid.uuid4()
    numbered = replace(
        numbered,
        traces=tuple({"id": i, "execution_id": numbered.id, **t}
                     for i, t in zip(step_ids, numbered.traces, strict=True)),
        usages=({"id": usage_id, "execution_id": numbered.id, **numbered.usages[0]},),
    )  # fmt: skip
    plain = make_record("tracked")
    assert write_batch(get_engine(db_url), [plain, numbered]).inserted == 2
    assert [s["id"] for s in steps(db_url, numbered.id)] == step_ids
    assert [u["id"] for u in usages(db_url, numbered.id)] == [usage_id]
    assert [s["step_number"] for s in steps(db_url, plain.id)] == [1, 2]
    assert [u["model"] for u in usages(db_url, plain.id)] == ["gpt-4o"]
    replayed = ExecutionRecord.from_json(plain.to_json())
    assert write_batch(get_engine(db_url), [replayed]).inserted == 0
    assert counts(db_url) == (2, 4, 2)


def test_rows_of_different_columns_keep_their_own(db_url: str) -> None:
    """A traced execution that names no flow_id, with nested steps, before a Run's that names
    one: each row is inserted with its own columns (the first row's shape once dropped the
    Run's flow), and a value out of range in a column the first row lacks is still refused."""
    traced = make_record("ingested")
    traced = replace(
        traced,
        execution={k: v for k, v in traced.execution.items() if k != "flow_id"},
        traces=tuple({"id": uuid.uuid4(), "execution_id": traced.id, "parent_step": None,
                      "depth": 0, **t} for t in traced.traces),
    )  # fmt: skip
    tracked = make_record("tracked", flow_id="checkout")
    assert write_batch(get_engine(db_url), [traced, tracked]).inserted == 2
    flows = {row["agent_name"]: row["flow_id"] for row in executions(db_url)}
    assert flows == {"ingested": None, "tracked": "checkout"}
    assert [s["depth"] for s in steps(db_url, traced.id)] == [0, 0]
    assert [s["depth"] for s in steps(db_url, tracked.id)] == [None, None]
    too_long = make_record("late", flow_id="x")
    too_long = replace(too_long, execution={**too_long.execution, "llm_time_ms": 2**31})
    first = make_record("first")
    first = replace(first, execution={k: v for k, v in first.execution.items()
                                      if k != "llm_time_ms"})  # fmt: skip
    with pytest.raises(InvalidInputError, match="llm_time_ms"):
        write_batch(get_engine(db_url), [first, too_long])
    assert len(executions(db_url)) == 2


def test_timestamps_in_any_zone_are_stored_as_utc(db_url: str) -> None:
    """A step's timestamp given in another zone, or naive (UTC), reads back as the same instant."""
    record = make_record()
    first, second = record.traces
    moment = datetime(2024, 6, 1, 12, 30, 15, 250_000, tzinfo=UTC)
    traces = (
        {**first, "timestamp": moment.astimezone(timezone(timedelta(hours=-5)))},
        {**second, "timestamp": moment.replace(tzinfo=None)},
    )
    write_batch(get_engine(db_url), [replace(record, traces=traces)])
    assert [step["timestamp"] for step in steps(db_url, record.id)] == [moment, moment]


def test_same_record_twice_is_stored_and_counted_once(db_url: str) -> None:
    create_budget(db_url, threshold_usd=Decimal("0.01"), alert_type="hard_stop", period_days=1)
    record = make_record()
    engine = get_engine(db_url)
    assert write_batch(engine, [record, record]).inserted == 1
    assert write_batch(engine, [record]).inserted == 0
    assert counts(db_url) == (1, 2, 1)
    check_budget(db_url)  # $0.006 counted once: not past $0.01


def test_unknown_users_get_a_stub_in_the_kits_database(db_url: str) -> None:
    record = make_record(user_id=ALICE)
    write_batch(get_engine(db_url), [record, make_record(user_id=ALICE)])
    assert {row["user_id"] for row in executions(db_url)} == {ALICE}


def test_json_round_trip_restores_every_value() -> None:
    record = make_record(user_id=ALICE, flow_id="f")
    assert ExecutionRecord.from_json(record.to_json()) == record
