"""The data contract's three recording functions, run as written against an AsyncSession, and their
sync twins, persist exactly what they are given."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from aa_notebooks.budgets.client import connect_budgets
from aa_notebooks.db.engine import async_session_factory, get_async_engine, session_factory
from aa_notebooks.db.repositories import AgentExecutionRepository, TokenUsageRepository
from aa_notebooks.db.schema import AgentExecution, ExecutionTrace, TokenUsage, User
from aa_notebooks.errors import InvalidInputError
from aa_notebooks.tracking import (
    record_token_usage,
    record_token_usage_sync,
    record_trace_step,
    record_trace_step_sync,
    track_agent_execution,
    track_agent_execution_sync,
)
from tests.cli.test_database_commands import document_sqlite

# gpt-4o lists $2.50 per 1M input and $10.00 per 1M output tokens:
# 1,200 in -> 0.003000, 300 out -> 0.003000, total 0.006000.
GPT4O_1200_300 = Decimal("0.006000")
# gpt-4o-mini lists $0.15 / $0.60 per 1M: 400 in -> 0.000060, 100 out -> 0.000060.
MINI_400_100 = Decimal("0.000120")


async def test_async_functions_as_written(db_url: str) -> None:
    async with async_session_factory(db_url)() as session:
        execution = await track_agent_execution(
            session,
            user_id=None,
            agent_name="researcher",
            agent_type="react",
            model_name="gpt-4o",
            input_tokens=1200,
            output_tokens=300,
            execution_time_ms=2400,
            status="failure",
            error_message="tool crashed",
            query_preview="Why? " * 40,
        )
        step = await record_trace_step(
            session, str(execution.id), 1, "tool_call", "search('refunds')", 350, 10, 20
        )
        usage = await record_token_usage(
            session, str(execution.id), "sub_agent", "gpt-4o-mini", 400, 100, step_number=1
        )
    await get_async_engine(db_url).dispose()

    with session_factory(db_url)() as session:
        stored = session.get(AgentExecution, execution.id)
        assert stored.status.value == "failure"
        assert (stored.input_tokens, stored.output_tokens, stored.total_tokens) == (1200, 300, 1500)
        assert stored.cost_usd == GPT4O_1200_300
        assert stored.error_message == "tool crashed"
        assert stored.query_preview == ("Why? " * 40)[:100]
        assert (stored.completed_at - stored.started_at).total_seconds() == 2.4
        trace = session.get(ExecutionTrace, step.id)
        assert (trace.step_number, trace.step_type.value, trace.content) == (
            1, "tool_call", "search('refunds')",
        )  # fmt: skip
        assert (trace.duration_ms, trace.input_tokens, trace.output_tokens) == (350, 10, 20)
        stored_usage = session.get(TokenUsage, usage.id)
        assert stored_usage.cost_usd == MINI_400_100
        assert (stored_usage.component, stored_usage.step_number) == ("sub_agent", 1)


def test_sync_twins(db_url: str) -> None:
    with session_factory(db_url)() as session:
        execution = track_agent_execution_sync(
            session, None, "writer", "react", "gpt-4o", 1200, 300, 900
        )
        record_trace_step_sync(session, execution.id, 1, "thought", "plan", 40)
        record_trace_step_sync(session, execution.id, 2, "final_answer", "done", 60)
        record_token_usage_sync(session, execution.id, "main_agent", "gpt-4o", 1200, 300)
    with session_factory(db_url)() as session:
        stored = session.get(AgentExecution, execution.id)
        assert stored.status.value == "success" and stored.cost_usd == GPT4O_1200_300
        steps = session.scalars(
            select(ExecutionTrace.step_type).order_by(ExecutionTrace.step_number)
        ).all()
        assert [s.value for s in steps] == ["thought", "final_answer"]
        usages = session.scalars(select(TokenUsage)).all()
        assert [(u.model, u.cost_usd) for u in usages] == [("gpt-4o", GPT4O_1200_300)]


def test_a_price_file_with_a_typo_records_the_run_unpriced_with_a_warning(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recording functions priced with `calculate_cost`, which raised the file's error:
    the agent lost the run, where the tracker records it at 0 and warns."""
    prices = tmp_path / "prices.toml"
    prices.write_text('[models."house"]\ninput_per_mllion = 1.0\noutput_per_million = 2.0\n')
    monkeypatch.setenv("AA_PRICING_FILE", str(prices))
    with session_factory(db_url)() as session, pytest.warns(UserWarning) as warned:
        execution = track_agent_execution_sync(
            session, None, "writer", "react", "gpt-4o", 1200, 300, 900
        )
        record_token_usage_sync(session, execution.id, "main_agent", "gpt-4o", 1200, 300)
    assert any(
        str(prices) in str(w.message) and "recorded unpriced" in str(w.message) for w in warned
    )
    with session_factory(db_url)() as session:
        stored = session.get(AgentExecution, execution.id)
        assert (stored.status.value, stored.cost_usd) == ("success", Decimal(0))
        usages = session.scalars(select(TokenUsage)).all()
        assert [(u.model, u.input_tokens, u.cost_usd) for u in usages] == [
            ("gpt-4o", 1200, Decimal(0))
        ]


def test_a_column_given_as_extra_wins_over_the_computed_one(db_url: str) -> None:
    """cost_usd and total_tokens are computed unless given (a TypeError used to say they were
    given twice)."""
    with session_factory(db_url)() as session:
        execution = track_agent_execution_sync(
            session, None, "writer", "react", "gpt-4o", 1200, 300, 900,
            cost_usd=Decimal("0.500000"), total_tokens=1500, llm_time_ms=700,
        )  # fmt: skip
        with pytest.raises(InvalidInputError, match=r"total_tokens \(1600\) must equal"):
            track_agent_execution_sync(
                session, None, "writer", "react", "gpt-4o", 1200, 300, 900, total_tokens=1600
            )
    with session_factory(db_url)() as session:
        stored = session.get(AgentExecution, execution.id)
        assert (stored.cost_usd, stored.total_tokens, stored.llm_time_ms) == (
            Decimal("0.500000"), 1500, 700,
        )  # fmt: skip


def test_a_run_back_filled_from_its_start_ends_when_its_duration_says(db_url: str) -> None:
    """Given only started_at, completed_at was the time of recording (a one-second run from
    February "ended" today); a naive time (what the columns hold: UTC) was a raw TypeError."""
    february = datetime(2026, 2, 15, 10, tzinfo=UTC)
    with session_factory(db_url)() as session:
        aware = track_agent_execution_sync(
            session, None, "writer", "react", "gpt-4o", 10, 5, 1000, started_at=february
        )
        naive = track_agent_execution_sync(
            session, None, "writer", "react", "gpt-4o", 10, 5, 250,
            started_at=february.replace(tzinfo=None), completed_at="2026-02-15T10:00:00.250Z",
        )  # fmt: skip
        with pytest.raises(InvalidInputError) as refused:
            track_agent_execution_sync(
                session, None, "writer", "react", "gpt-4o", 10, 5, 1, started_at="yesterday"
            )
    assert str(refused.value) == (
        "started_at must be a datetime (or its ISO 8601 text), got 'yesterday'"
    )
    with session_factory(db_url)() as session:
        stored = {
            run.id: (run.started_at, run.completed_at)
            for run in session.scalars(select(AgentExecution))
        }
    assert stored == {
        aware.id: (february, february + timedelta(seconds=1)),
        naive.id: (february, february + timedelta(milliseconds=250)),
    }


def test_times_in_a_zone_with_summer_time_are_added_and_compared_in_utc(db_url: str) -> None:
    """Across New York's clock changes, a duration was added to the wall clock (a 1 s run
    stored ending an hour before it started) and the order of two times was judged by the wall
    clock (a real 20-minute run refused, one ending before it started accepted)."""
    new_york = ZoneInfo("America/New_York")
    second_half_past_one = datetime(2024, 11, 3, 1, 30, fold=1, tzinfo=new_york)  # 06:30Z
    before_spring = datetime(2024, 3, 10, 1, 30, tzinfo=new_york)  # 06:30Z, EST
    first_ten_to_two = datetime(2024, 11, 3, 1, 50, tzinfo=new_york)  # 05:50Z, EDT
    second_ten_past_one = datetime(2024, 11, 3, 1, 10, fold=1, tzinfo=new_york)  # 06:10Z, EST
    with session_factory(db_url)() as session:

        def record(took_ms: int, started: datetime, completed: datetime | None = None) -> uuid.UUID:
            times = {"started_at": started} | ({"completed_at": completed} if completed else {})
            execution = track_agent_execution_sync(
                session, None, "writer", "react", "gpt-4o", 10, 5, took_ms, **times
            )
            return execution.id

        autumn = record(1000, second_half_past_one)
        spring = record(7_200_000, before_spring)
        twenty_minutes = record(1_200_000, first_ten_to_two, second_ten_past_one)
        with pytest.raises(InvalidInputError, match="completed_at is before started_at"):
            record(1000, second_ten_past_one, first_ten_to_two)
    with session_factory(db_url)() as session:
        stored = {
            run.id: (run.started_at, run.completed_at)
            for run in session.scalars(select(AgentExecution))
        }
    assert stored == {
        autumn: (
            datetime(2024, 11, 3, 6, 30, tzinfo=UTC),
            datetime(2024, 11, 3, 6, 30, 1, tzinfo=UTC),
        ),
        spring: (
            datetime(2024, 3, 10, 6, 30, tzinfo=UTC),
            datetime(2024, 3, 10, 8, 30, tzinfo=UTC),
        ),
        twenty_minutes: (
            datetime(2024, 11, 3, 5, 50, tzinfo=UTC),
            datetime(2024, 11, 3, 6, 10, tzinfo=UTC),
        ),
    }


def test_bad_input_is_rejected_and_nothing_is_written(db_url: str) -> None:
    with session_factory(db_url)() as session:
        with pytest.raises(InvalidInputError, match="'success', 'failure' or 'timeout'"):
            track_agent_execution_sync(session, None, "a", "t", "gpt-4o", 1, 1, 1, status="ok")
        with pytest.raises(InvalidInputError, match="input_tokens must be zero or more, got -1"):
            track_agent_execution_sync(session, None, "a", "t", "gpt-4o", -1, 1, 1)
        assert session.scalars(select(AgentExecution)).all() == []


async def test_recorded_spend_counts_towards_a_hard_stop_at_once(db_url: str) -> None:
    """Two gpt-4o executions of $0.006 each against a $0.01 hard stop on the researcher: the
    first leaves room (check passes), the second takes spend to $0.012 and the very next check
    refuses; the crossing fires one warning (80%: $0.008) and one exceeded event."""
    from aa_notebooks.budgets import check_budget
    from aa_notebooks.errors import BudgetExceededError

    connect_budgets(db_url).create(
        name="researcher stop", scope="agent", target="researcher", threshold_usd="0.01",
        period_days=1, alert_type="hard_stop", alert_at_percentage=80, email_notification=False,
    )  # fmt: skip
    arguments = dict(user_id=None, agent_name="researcher", agent_type="react",
                     model_name="gpt-4o", input_tokens=1200, output_tokens=300,
                     execution_time_ms=100)  # fmt: skip
    async with async_session_factory(db_url)() as session:
        await track_agent_execution(session, **arguments)
    check_budget(db_url, agent="researcher")  # $0.006 of $0.01: allowed
    with session_factory(db_url)() as session:
        track_agent_execution_sync(session, **arguments)
    await get_async_engine(db_url).dispose()
    with pytest.raises(BudgetExceededError, match="researcher stop"):
        check_budget(db_url, agent="researcher")
    check_budget(db_url, agent="planner")  # another agent is not stopped
    events = connect_budgets(db_url).alert_events("24h").frame
    assert sorted(events["kind"]) == ["exceeded", "warning"]


async def test_counts_past_the_integer_range_are_refused(db_url: str) -> None:
    """One past INTEGER's range on each recording function, sync and async: InvalidInputError
    naming the field, the value and the limit; nothing is written."""
    limit = "Input should be less than or equal to 2147483647, got 2147483648"
    with session_factory(db_url)() as session:
        with pytest.raises(InvalidInputError, match=f"invalid execution: input_tokens: {limit}"):
            track_agent_execution_sync(session, None, "a", "t", "gpt-4o", 2**31, 1, 1)
        with pytest.raises(InvalidInputError, match=f"execution_time_ms: {limit}"):
            track_agent_execution_sync(session, None, "a", "t", "gpt-4o", 1, 1, 2**31)
        execution = track_agent_execution_sync(session, None, "a", "t", "gpt-4o", 1, 1, 1)
        with pytest.raises(InvalidInputError, match=f"invalid trace step: duration_ms: {limit}"):
            record_trace_step_sync(session, execution.id, 1, "thought", "x", 2**31)
        with pytest.raises(InvalidInputError, match=f"invalid token usage: output_tokens: {limit}"):
            record_token_usage_sync(session, execution.id, "main", "gpt-4o", 1, 2**31)
    engine = get_async_engine(db_url)
    async with AsyncSession(engine) as session:
        with pytest.raises(InvalidInputError, match=f"output_tokens: {limit}"):
            await track_agent_execution(session, None, "a", "t", "gpt-4o", 1, 2**31, 1)
        with pytest.raises(InvalidInputError, match=f"step_number: {limit}"):
            await record_trace_step(session, execution.id, 2**31, "thought", "x", 1)
        with pytest.raises(InvalidInputError, match=f"input_tokens: {limit}"):
            await record_token_usage(session, execution.id, "main", "gpt-4o", 2**31, 1)
    await engine.dispose()
    with session_factory(db_url)() as session:
        assert len(session.scalars(select(AgentExecution)).all()) == 1
        assert session.scalars(select(ExecutionTrace)).all() == []
        assert session.scalars(select(TokenUsage)).all() == []


def test_token_usage_takes_cached_and_reasoning_tokens(db_url: str) -> None:
    """gpt-4o: $2.50 in, $1.25 cache read, $10 out per 1M. 1,000 in with 400 read, 200 out with
    50 reasoning: 600 * 2.50 + 400 * 1.25 + 200 * 10 = 1,500 + 500 + 2,000 = 4,000 per 1M."""
    with session_factory(db_url)() as session:
        execution = track_agent_execution_sync(session, None, "a", "react", "gpt-4o", 1, 1, 1)
        usage = record_token_usage_sync(
            session, execution.id, "main_agent", "gpt-4o", 1000, 200,
            cache_read_tokens=400, reasoning_tokens=50,
        )  # fmt: skip
    with session_factory(db_url)() as session:
        stored = session.get(TokenUsage, usage.id)
        assert stored.cost_usd == Decimal("0.004000")
        assert (stored.cache_read_tokens, stored.cache_write_tokens, stored.reasoning_tokens) == (
            400, None, 50,
        )  # fmt: skip
        assert stored.price_source == f"genai-prices {version('genai-prices')}"
    with session_factory(db_url)() as session, pytest.raises(InvalidInputError, match="exceed"):
        record_token_usage_sync(session, execution.id, "m", "gpt-4o", 10, 1, cache_read_tokens=11)


def test_a_new_user_is_added_and_the_returned_run_stays_in_the_session(db_url: str) -> None:
    """In the kit's own database a user it has not seen is added, as the Tracker does; on a
    plain Session (which expires at commit) the returned run is the session's own: an edit
    and a commit store it."""
    newcomer = uuid.uuid4()
    with session_factory(db_url)() as session:
        execution = track_agent_execution_sync(session, newcomer, "a", "react", "gpt-4o", 1, 1, 1)
        assert execution in session
        execution.query_preview = "edited after recording"
        session.commit()
    with session_factory(db_url)() as session:
        stored = session.get(AgentExecution, execution.id)
        assert (stored.user_id, stored.query_preview) == (newcomer, "edited after recording")
        assert session.get(User, newcomer) is not None


def test_a_column_the_database_lacks_is_named_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """On the data contract's own tables a usage row's price provenance has nowhere to go: the
    row is stored without it, and the warning says so once, not at every row."""
    path = tmp_path / "document.db"
    url = document_sqlite(path)
    with Session(create_engine(url)) as session:
        execution = track_agent_execution_sync(session, None, "a", "react", "gpt-4o", 1, 1, 1)
        for _ in range(3):
            record_token_usage_sync(session, execution.id, "main", "gpt-4o", 10, 5)
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT count(*) FROM tokenusages").fetchone() == (3,)
    said = [r.getMessage() for r in caplog.records if "no column" in r.getMessage()]
    assert said == [
        "tokenusages has no column price_source: those values are not stored (the data "
        "contract's table lacks what the kit adds)"
    ]


async def test_a_user_or_execution_the_contracts_database_lacks_is_named(tmp_path: Path) -> None:
    """The data contract's database adds no user by itself: an unknown user_id, or a step of an
    execution never recorded, was a bare IntegrityError showing the INSERT and its values, from
    the recording functions and the repositories alike."""
    path = tmp_path / "document.db"
    url = document_sqlite(path)
    refused = "the database refused a value: FOREIGN KEY constraint failed: "
    no_user = (
        refused + "its user_id is not in this database's users table; add the user there first "
        "(a database made by the data contract's DDL adds none by itself)"
    )
    no_execution = (
        refused + "its execution_id is not a stored execution; record the execution first"
    )
    stranger = "5742a46e-9999-4999-8999-99999999abcd"
    with session_factory(url)() as session:
        with pytest.raises(InvalidInputError) as said:
            track_agent_execution_sync(session, stranger, "a", "react", "gpt-4o", 1, 1, 1)
        assert str(said.value) == no_user
        with pytest.raises(InvalidInputError) as said:
            record_trace_step_sync(session, stranger, 1, "thought", "x", 10)
        assert str(said.value) == no_execution
        with pytest.raises(InvalidInputError) as said:
            TokenUsageRepository(session).bulk_insert(
                [{"execution_id": stranger, "input_tokens": 1, "output_tokens": 1, "cost_usd": 0}]
            )
        assert str(said.value) == no_execution
        kept = track_agent_execution_sync(session, None, "a", "react", "gpt-4o", 1, 1, 1)
    async with async_session_factory(url.replace("sqlite:", "sqlite+aiosqlite:"))() as session:
        with pytest.raises(InvalidInputError) as said:
            await track_agent_execution(session, stranger, "a", "react", "gpt-4o", 1, 1, 1)
        assert str(said.value) == no_user
        with pytest.raises(InvalidInputError) as said:
            await AgentExecutionRepository(session).create({"status": "success"}, user_id=stranger)
        assert str(said.value) == no_user
    with sqlite3.connect(path) as connection:
        stored = connection.execute("SELECT id FROM agentexecutions").fetchall()
        assert [uuid.UUID(row[0]) for row in stored] == [kept.id]
        assert connection.execute("SELECT count(*) FROM executiontraces").fetchone() == (0,)
