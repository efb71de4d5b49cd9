"""An SQLite database that another program writes with the data contract's DDL: its times and
ids are text in whichever form that program chose. `DEFAULT CURRENT_TIMESTAMP` and Python's
sqlite3 adapter write a whole second without a fraction, the kit and SQLAlchemy with six
digits: a row exactly on an hour or a day must land in that hour or day either way, read raw or
from the rollups. Ids written with dashes (`str(uuid)`) must match as the kit's hex digits do.
Times with a `T` or an offset cannot compare as text: `check-db` names them and how to mend."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import bindparam, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from aa_notebooks.analytics import connect
from aa_notebooks.budgets import create_budget, record_execution, update_budget
from aa_notebooks.budgets.guard import check_budget
from aa_notebooks.cli import main
from aa_notebooks.db.engine import get_async_engine, get_engine
from aa_notebooks.db.inspection import OddTimesWarning, check_db
from aa_notebooks.db.records import AgentExecutionCreate
from aa_notebooks.db.repositories import AgentExecutionRepository, ExecutionTraceRepository
from aa_notebooks.db.schema import AgentExecution, RangeBound, UTCDateTime
from aa_notebooks.db.setup import init_db
from aa_notebooks.errors import BudgetExceededError, InvalidInputError, SchemaError
from aa_notebooks.tracking import (
    Tracker,
    record_token_usage_sync,
    record_trace_step_sync,
    track_agent_execution,
    track_agent_execution_sync,
)
from aa_notebooks.tracking.run import Run
from aa_notebooks.tracking.store import write_batch
from tests.cli.test_database_commands import document_sqlite

# (started_at as the other program wrote it, status, cost): both forms of a whole second
ROWS = [
    ("2026-01-12 00:00:00", "success", "1"),  # exactly midnight
    ("2026-01-12 10:00:00", "failure", "2"),  # exactly on an hour
    ("2026-01-12 10:30:00.000000", "success", "4"),
    ("2026-01-12 11:00:00.000000", "success", "8"),  # on an hour, with the fraction
    ("2026-01-12 11:59:59", "success", "16"),
    ("2026-01-13 00:00:00", "timeout", "32"),  # exactly the next midnight
]
NOW = datetime(2026, 1, 12, 12, 0, tzinfo=UTC)


@pytest.fixture
def other_programs_db(tmp_path: Path) -> str:
    path = tmp_path / "agentos.db"
    url = document_sqlite(path)
    with sqlite3.connect(path) as connection:
        for started, status, cost in ROWS:
            connection.execute(
                "INSERT INTO agentexecutions (id, request_id, session_id, agent_name, model_name, "
                "status, cost_usd, execution_time_ms, started_at) "
                "VALUES (?, ?, ?, 'a', 'gpt-4o', ?, ?, 100, ?)",
                (uuid.uuid4().hex, uuid.uuid4().hex, uuid.uuid4().hex, status, cost, started),
            )
    return url


# window -> (executions, cost), counted by hand from ROWS
EXPECTED = [
    ({"period": "2h"}, 4, Decimal("30")),  # [10:00, 12:00]: 10:00, 10:30, 11:00, 11:59:59
    ({"period": "1h"}, 2, Decimal("24")),  # [11:00, 12:00]: 11:00 (with its fraction), 11:59:59
    ({"period": "12h"}, 5, Decimal("31")),  # [00:00, 12:00]: all of the 12th
    ({"start_date": "2026-01-11", "end_date": "2026-01-11"}, 0, Decimal("0")),
    ({"start_date": "2026-01-12", "end_date": "2026-01-12"}, 5, Decimal("31")),
    ({"start_date": "2026-01-13", "end_date": "2026-01-13"}, 1, Decimal("32")),
]


@pytest.mark.parametrize(("window", "executions", "cost"), EXPECTED)
def test_whole_seconds_without_a_fraction_land_in_their_hour_and_day(
    other_programs_db: str, window: dict[str, str], executions: int, cost: Decimal
) -> None:
    analytics = connect(other_programs_db, now=lambda: NOW)
    exact = analytics.overview(**window, exact=True)
    assert (exact.total_executions, exact.total_cost_usd) == (executions, cost)
    assert main(["--db", other_programs_db, "rollups", "enable"]) == 0
    read = analytics.overview(**window)
    assert (read.total_executions, read.total_cost_usd) == (executions, cost)


def test_the_rollups_of_such_rows_check_equal(
    other_programs_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--db", other_programs_db, "rollups", "enable"]) == 0
    assert main(["--db", other_programs_db, "rollups", "check"]) == 0
    assert "all equal the raw rows" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("bound", "sent"),
    [
        (datetime(2026, 1, 12, 10, 0), "2026-01-12 10:00:00"),
        (datetime(2026, 1, 12, 10, 0, 0, 500), "2026-01-12 10:00:00.0005"),
        (datetime(2026, 1, 12, 10, 0, 0, 120_000), "2026-01-12 10:00:00.12"),
        (datetime(2026, 1, 12, 11, 0, tzinfo=UTC), "2026-01-12 11:00:00"),
    ],
)
def test_a_range_bound_is_sent_without_trailing_zeros(
    other_programs_db: str, bound: datetime, sent: str
) -> None:
    with get_engine(other_programs_db).connect() as connection:
        sent_text = func.substr(literal(bound, RangeBound()), 1)  # the text, not parsed back
        assert connection.scalar(select(sent_text)) == sent


def test_lower_and_upper_bounds_take_the_range_form_other_comparisons_do_not(
    other_programs_db: str,
) -> None:
    started = AgentExecution.__table__.c.started_at
    with get_engine(other_programs_db).connect() as connection:

        def count(*conditions: object, **params: object) -> int:
            query = select(started).where(*conditions)  # type: ignore[arg-type]
            return len(connection.execute(query, params).all())

        # >= and < are right for a row at 10:00:00 (no fraction) and at 11:00:00.000000
        for hour, before in ((datetime(2026, 1, 12, 10), 1), (datetime(2026, 1, 12, 11), 3)):
            after = len(ROWS) - before
            assert count(started >= hour) == after
            assert count(started < hour) == before
            assert count(started >= bindparam("lower", type_=UTCDateTime()), lower=hour) == after
            assert count(started < bindparam("upper"), upper=hour) == before
            # > and <= keep the six digits, which is what they need: the row on the hour is
            # not after it, and is at or before it
            assert count(started > hour) == after - 1
            assert count(started <= hour) == before + 1
            last = datetime(2026, 1, 12, 11, 59, 59)  # stored without a fraction
            assert count(started.between(hour, last)) == after - 1  # all but the 13th


def test_a_fraction_of_fewer_digits_compares_as_its_time(other_programs_db: str) -> None:
    """Milliseconds, as SQLite's strftime('%f') writes them, against bounds with microseconds."""
    started = AgentExecution.__table__.c.started_at
    with sqlite3.connect(other_programs_db.removeprefix("sqlite:///")) as connection:
        connection.execute("UPDATE agentexecutions SET started_at = '2026-01-12 10:30:00.001' "
                           "WHERE started_at = '2026-01-12 10:30:00.000000'")  # fmt: skip
    with get_engine(other_programs_db).connect() as connection:
        for bound, at_or_after in (
            (datetime(2026, 1, 12, 10, 30, 0, 1000), 4),  # the row itself
            (datetime(2026, 1, 12, 10, 30, 0, 999), 4),
            (datetime(2026, 1, 12, 10, 30, 0, 1001), 3),
        ):
            assert len(connection.execute(select(started).where(started >= bound)).all()) == (
                at_or_after
            )
            assert len(connection.execute(select(started).where(started < bound)).all()) == (
                len(ROWS) - at_or_after
            )


# UUIDs as text with dashes (`str(uuid)`), as a program using sqlite3 itself writes them
ALICE = uuid.UUID("a11ce000-0000-4000-8000-000000000001")
AGENT = uuid.UUID("a9e47000-0000-4000-8000-000000000002")
RUN = uuid.UUID("00000000-0000-4000-8000-0000000000aa")


Form = Callable[[uuid.UUID], str]


@pytest.fixture(params=[str, lambda found: str(found).upper()], ids=["dashed", "upper-case"])
def form(request: pytest.FixtureRequest) -> Form:
    """How the other program writes a UUID: `str(uuid)`, or in upper case (as .NET's and some
    JavaScript libraries' GUIDs are)."""
    return cast(Form, request.param)


@pytest.fixture
def dashed_db(tmp_path: Path, form: Form) -> str:
    """Alice's 3 runs of one agent at 10:15, 10:45 and 11:30 (the first with 2 steps and a
    usage row), and 2 runs of nobody's; every id as text with dashes, in the `form`'s case."""
    path = tmp_path / "dashed.db"
    url = document_sqlite(path)
    with sqlite3.connect(path) as connection:
        connection.execute("INSERT INTO users (id) VALUES (?)", (form(ALICE),))
        runs = [
            (RUN, ALICE, "10:15"),
            (uuid.uuid4(), ALICE, "10:45"),
            (uuid.uuid4(), ALICE, "11:30"),
        ]
        runs += [(uuid.uuid4(), None, "10:20"), (uuid.uuid4(), None, "11:40")]
        for run, user, minute in runs:
            connection.execute(
                "INSERT INTO agentexecutions (id, user_id, request_id, session_id, agent_id, "
                "agent_name, model_name, status, cost_usd, execution_time_ms, started_at) "
                "VALUES (?, ?, ?, ?, ?, 'bot', 'gpt-4o', 'success', 0.5, 100, ?)",
                (form(run), user and form(user), form(uuid.uuid4()), form(uuid.uuid4()),
                 form(AGENT) if user else None, f"2026-01-12 {minute}:00.000000"),
            )  # fmt: skip
        for number, kind in ((1, "thought"), (2, "final_answer")):
            connection.execute(
                "INSERT INTO executiontraces (id, execution_id, step_number, step_type, content) "
                "VALUES (?, ?, ?, ?, 'x')",
                (form(uuid.uuid4()), form(RUN), number, kind),
            )
        connection.execute(
            "INSERT INTO tokenusages (id, execution_id, component, model, input_tokens, "
            "output_tokens, cost_usd) VALUES (?, ?, 'main', 'gpt-4o', 10, 5, 0.5)",
            (form(uuid.uuid4()), form(RUN)),
        )
    return url


@pytest.mark.parametrize("rollups", [False, True])
def test_dashed_ids_match_a_users_scope_an_agents_stats_and_a_trace(
    dashed_db: str, rollups: bool
) -> None:
    if rollups:
        assert main(["--db", dashed_db, "rollups", "enable"]) == 0
    days = {"start_date": "2026-01-12", "end_date": "2026-01-12"}
    alices = connect(dashed_db, now=lambda: NOW, user_id=ALICE)
    for exact in (True, False):
        assert alices.overview(**days, exact=exact).total_executions == 3
        assert alices.overview(period="2h", exact=exact).total_executions == 3
        assert alices.overview(period="1h", exact=exact).total_executions == 1  # 11:30
    everyone = connect(dashed_db, now=lambda: NOW)
    assert everyone.overview(**days).total_executions == 5
    stats = everyone.agent_stats(str(AGENT), start_date="2026-01-12", end_date="2026-01-12")
    assert stats.total_executions == 3
    detail = everyone.execution(str(RUN))
    assert detail.id == RUN
    assert detail.traces is not None and list(detail.traces["step_number"]) == [1, 2]
    assert detail.token_usage is not None and len(detail.token_usage) == 1


def test_a_users_ad_hoc_sql_reads_the_users_dashed_rows(dashed_db: str) -> None:
    alices = connect(dashed_db, user_id=ALICE)
    counted = alices.sql("SELECT count(*) AS n, sum(cost_usd) AS cost FROM agentexecutions")
    assert counted.to_dict("records") == [{"n": 3, "cost": 1.5}]
    steps = alices.sql("SELECT count(*) AS n FROM executiontraces")
    assert steps.to_dict("records") == [{"n": 2}]
    nobody = connect(dashed_db, user_id=uuid.uuid4())
    assert nobody.sql("SELECT count(*) AS n FROM agentexecutions").to_dict("records") == [{"n": 0}]


def test_a_dashed_users_hard_stop_refuses_the_run(dashed_db: str, form: Form) -> None:
    with sqlite3.connect(dashed_db.removeprefix("sqlite:///")) as connection:
        connection.execute(  # Alice spent $1.50 today: over $1.00
            "INSERT INTO budgetalerts (id, user_id, scope, threshold_usd, period_days, "
            "alert_type) VALUES (?, ?, 'user', 1, 30, 'hard_stop')",
            (str(uuid.uuid4()), form(ALICE)),
        )
    with pytest.raises(BudgetExceededError, match=r"\$1\.50 spent of \$1\.00"):
        check_budget(dashed_db, user_id=ALICE, now=NOW)
    check_budget(dashed_db, user_id=uuid.uuid4(), now=NOW)  # someone else runs


def test_a_budget_for_a_dashed_user_is_stored_under_the_users_own_form(
    dashed_db: str, form: Form
) -> None:
    """The foreign key compares text: the budget's user_id is written as the users row holds it."""
    budget = create_budget(
        dashed_db, scope="user", user_id=ALICE, threshold_usd=5, alert_type="hard_stop"
    )
    update_budget(dashed_db, budget.id, threshold_usd=1)
    path = dashed_db.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        stored = connection.execute("SELECT user_id, threshold_usd FROM budgetalerts").fetchall()
    assert stored == [(form(ALICE), 1)]
    with pytest.raises(BudgetExceededError, match=r"\$1\.50 spent of \$1\.00"):
        check_budget(dashed_db, user_id=ALICE, now=NOW)


def test_cost_by_user_lists_a_user_once_whichever_form_their_rows_hold(dashed_db: str) -> None:
    with sqlite3.connect(dashed_db.removeprefix("sqlite:///")) as connection:
        connection.execute(  # one more run of Alice's, her id as the kit's hex digits
            "INSERT INTO agentexecutions (id, user_id, request_id, session_id, status, "
            "cost_usd, input_tokens, started_at) "
            "VALUES (?, ?, ?, ?, 'success', 0.25, 7, '2026-01-12 11:45:00.000000')",
            (uuid.uuid4().hex, ALICE.hex, uuid.uuid4().hex, uuid.uuid4().hex),
        )
    days = {"start_date": "2026-01-12", "end_date": "2026-01-12"}
    frame = connect(dashed_db).cost_summary(by="user", **days).frame
    listed = frame.fillna({"user_id": "nobody"})[
        ["user_id", "executions", "input_tokens", "cost_usd"]
    ]
    # Alice: 3 dashed runs at $0.50 and the hex one at $0.25; nobody's 2 at $0.50
    assert listed.to_dict("records") == [
        {"user_id": str(ALICE), "executions": 4, "input_tokens": 7, "cost_usd": 1.75},
        {"user_id": "nobody", "executions": 2, "input_tokens": 0, "cost_usd": 1.0},
    ]


def _stored(url: str, sql: str, *texts: str) -> list[tuple[object, ...]]:
    """The rows of `sql` as SQLite holds them, with `texts` bound."""
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        return connection.execute(sql, texts).fetchall()


def test_every_recording_path_stores_a_dashed_users_run(
    dashed_db: str, tmp_path: Path, form: Form
) -> None:
    """SQLite compares a foreign key as text: each new run of Alice's is written with her id as
    the users row holds it, with dashes, or the insert is refused and the run lost."""
    tracker = Tracker(dashed_db, spool_dir=tmp_path / "spool", check_budgets=False)
    with tracker.execution(agent_name="bot", user_id=ALICE, model="gpt-4o") as run:
        run.tokens("main_agent", "gpt-4o", 200, 100)
    assert tracker.flush(30)
    tracker.close()
    assert not (tmp_path / "spool" / "rejected.jsonl").exists()
    with Session(get_engine(dashed_db)) as session:  # foreign keys on
        track_agent_execution_sync(session, ALICE, "bot", "react", "gpt-4o", 10, 5, 100)

    async def record_async() -> None:
        engine = get_async_engine(dashed_db)
        async with AsyncSession(engine) as session:
            await track_agent_execution(session, str(ALICE), "bot", "react", "gpt-4o", 1, 1, 1)
        await engine.dispose()

    asyncio.run(record_async())
    record_execution(
        dashed_db,
        AgentExecutionCreate(
            user_id=ALICE, request_id=uuid.uuid4(), session_id=uuid.uuid4(), agent_name="bot",
            model_name="gpt-4o", status="success", cost_usd="0.25", execution_time_ms=10,
        ),
    )  # fmt: skip
    by_user = _stored(dashed_db, "SELECT user_id, count(*) FROM agentexecutions GROUP BY 1")
    assert sorted(by_user, key=str) == sorted([(None, 2), (form(ALICE), 3 + 4)], key=str)
    alices = connect(dashed_db, user_id=ALICE)
    assert alices.sql("SELECT count(*) AS n FROM agentexecutions").to_dict("records") == [{"n": 7}]


def test_steps_and_usage_attach_to_a_run_stored_with_dashes(dashed_db: str, form: Form) -> None:
    with Session(get_engine(dashed_db)) as session:  # foreign keys on
        record_trace_step_sync(session, RUN, 3, "observation", "later", 40)
        record_token_usage_sync(session, str(RUN), "judge", "gpt-4o", 10, 5)
    detail = connect(dashed_db).execution(str(RUN))
    assert detail.traces is not None and list(detail.traces["step_number"]) == [1, 2, 3]
    assert detail.token_usage is not None and len(detail.token_usage) == 2
    for table in ("executiontraces", "tokenusages"):
        stored = _stored(dashed_db, f"SELECT DISTINCT execution_id FROM {table}")
        assert stored == [(form(RUN),)]


def test_a_recorded_run_reads_after_its_commit_on_the_documents_tables(dashed_db: str) -> None:
    """A plain Session expires what it holds at commit: on the document's tables the run
    returned is detached, read in full (the kit's columns they lack, such as flow_id, as
    None); on an AsyncSession too, which could not reload it without an await."""
    with Session(get_engine(dashed_db)) as session:  # foreign keys on
        run = track_agent_execution_sync(session, None, "bot", "react", "gpt-4o", 10, 5, 100)
        step = record_trace_step_sync(session, run.id, 1, "thought", "x", 5)
    stored = _stored(dashed_db, "SELECT id FROM agentexecutions WHERE user_id IS NULL")
    assert run.id.hex in {found for (found,) in stored}
    assert (run.agent_name, run.total_tokens, run.flow_id) == ("bot", 15, None)
    assert (step.execution_id, step.step_number) == (run.id, 1)

    async def record_async() -> uuid.UUID:
        engine = get_async_engine(dashed_db)
        async with AsyncSession(engine) as session:  # expires on commit, as by default
            run = await track_agent_execution(session, None, "bot", "react", "gpt-4o", 1, 1, 1)
        await engine.dispose()
        return run.id  # read without an await: no MissingGreenlet

    assert uuid.UUID(str(asyncio.run(record_async()))).hex in {
        found for (found,) in _stored(dashed_db, "SELECT id FROM agentexecutions")
    }


def test_ids_set_on_a_run_as_any_text_are_stored_as_the_kit_stores_them(
    dashed_db: str, tmp_path: Path, form: Form
) -> None:
    """A Run's id attributes take a UUID's text in any form (upper case, braces, urn:) and are
    checked when set: the row holds the kit's hex digits (or the users row's own text)."""
    tracker = Tracker(dashed_db, spool_dir=tmp_path / "spool", check_budgets=False)
    for text in (str(AGENT).upper(), "{" + str(AGENT) + "}", AGENT.urn):
        with tracker.execution(agent_name="bot", model="gpt-4o") as run:
            run.agent_id = text
            run.user_id = ALICE.hex.upper()
            with pytest.raises(InvalidInputError, match="agent_id must be a UUID, got 'bot-7'"):
                run.agent_id = "bot-7"
    assert tracker.flush(30)
    tracker.close()
    stored = _stored(dashed_db, "SELECT agent_id, user_id FROM agentexecutions")
    assert stored.count((AGENT.hex, form(ALICE))) == 3
    today = datetime.now(UTC).date().isoformat()
    stats = connect(dashed_db).agent_stats(str(AGENT), start_date="2026-01-12", end_date=today)
    assert stats.total_executions == 3 + 3  # the fixture's three (dashed) and these


def test_bulk_inserts_refer_to_a_user_and_a_run_stored_with_dashes(
    dashed_db: str, form: Form
) -> None:
    with Session(get_engine(dashed_db)) as session:  # foreign keys on
        inserted = AgentExecutionRepository(session).bulk_insert([
            {"user_id": ALICE, "request_id": uuid.uuid4(), "session_id": uuid.uuid4(),
             "agent_name": "bot", "status": "success", "started_at": NOW},
        ])  # fmt: skip
        steps = ExecutionTraceRepository(session).bulk_insert([
            {"execution_id": RUN, "step_number": 3, "step_type": "observation"},
        ])  # fmt: skip
    assert (inserted, steps) == (1, 1)
    by_user = _stored(
        dashed_db, "SELECT count(*) FROM agentexecutions WHERE user_id = ?", form(ALICE)
    )
    assert by_user == [(4,)]
    assert _stored(dashed_db, "SELECT DISTINCT execution_id FROM executiontraces") == [(form(RUN),)]


def test_a_budget_stored_with_dashes_fires_each_alert_once(tmp_path: Path) -> None:
    """The kit's alert events refer to their budget: for a budget another program stored with
    dashes, the events hold that text, and each level fires once, however many runs cross it."""
    url = f"sqlite:///{tmp_path / 'kit.db'}"
    init_db(url)
    budget = uuid.uuid4()
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        connection.execute(  # $0.05, warning at 50%
            "INSERT INTO budgetalerts (id, scope, threshold_usd, period_days, alert_type, "
            "alert_at_percentage, is_active, email_notification) "
            "VALUES (?, 'global', 0.05, 30, 'warning', 50, 1, 0)",
            (str(budget),),
        )
    for cost in ("0.03", "0.01", "0.02", "0.04"):  # 60%, 80%, 120%, 200% of the threshold
        record_execution(
            url,
            AgentExecutionCreate(
                request_id=uuid.uuid4(), session_id=uuid.uuid4(), agent_name="bot",
                status="success", cost_usd=cost, execution_time_ms=10,
            ),
            on_alerts=lambda _url: None,
        )  # fmt: skip
    events = _stored(url, "SELECT budget_id, kind FROM budgetalertevents ORDER BY fired_at")
    assert events == [(str(budget), "warning"), (str(budget), "exceeded")]
    assert _stored(url, "SELECT count(*) FROM agentexecutions") == [(4,)]


def test_more_than_a_thousand_users_stored_with_dashes_are_found_not_added_again(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'kit.db'}"
    init_db(url)
    users = [uuid.UUID(int=n + 1) for n in range(1_001)]
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        connection.executemany("INSERT INTO users (id) VALUES (?)", [(str(u),) for u in users])
    records = [Run(agent_name="bot", user_id=user).finish() for user in users]
    assert write_batch(get_engine(url), records).inserted == 1_001
    assert _stored(url, "SELECT count(*), min(length(id)) FROM users") == [(1_001, 36)]
    assert _stored(url, "SELECT count(*) FROM agentexecutions WHERE length(user_id) = 36") == [
        (1_001,)
    ]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_a_comparison_that_names_the_table_alone_brings_it(db_url: str) -> None:
    """The FROM of a SELECT comes from its comparisons: the two forms must keep it."""
    executions = AgentExecution.__table__.c
    with get_engine(db_url).connect() as connection:
        assert connection.scalar(select(func.count()).where(executions.id == RUN)) == 0
        assert connection.scalar(select(func.count()).where(executions.id.in_([RUN]))) == 0


def test_a_list_of_ids_matches_both_forms(dashed_db: str) -> None:
    executions = AgentExecution.__table__.c
    hex_run = uuid.uuid4()
    with get_engine(dashed_db).begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO agentexecutions (id, request_id, session_id, status, started_at) "
            "VALUES (?, ?, ?, 'success', '2026-01-12 09:00:00')",
            (hex_run.hex, uuid.uuid4().hex, uuid.uuid4().hex),
        )
        found = connection.scalars(select(executions.id).where(executions.id.in_([RUN, hex_run])))
        assert sorted(found) == sorted([RUN, hex_run])
        assert connection.scalar(select(executions.id).where(executions.id == hex_run)) == hex_run


def test_check_db_takes_whole_seconds_and_fractions_as_times(other_programs_db: str) -> None:
    report = check_db(other_programs_db)
    assert report.odd_times == {} and report.ok


def test_check_db_finds_times_with_a_t_and_an_offset_and_says_how_to_mend_them(
    other_programs_db: str,
) -> None:
    with sqlite3.connect(other_programs_db.removeprefix("sqlite:///")) as connection:
        connection.execute(  # 10:20 at UTC+2: 08:20 UTC
            "INSERT INTO agentexecutions (id, request_id, session_id, status, cost_usd, "
            "started_at) VALUES (?, ?, ?, 'success', 64, '2026-01-12T10:20:00+02:00')",
            (uuid.uuid4().hex, uuid.uuid4().hex, uuid.uuid4().hex),
        )
    report = check_db(other_programs_db)
    assert report.odd_times == {"agentexecutions.started_at": "2026-01-12T10:20:00+02:00"}
    assert not report.ok
    mend = str(report).splitlines()[-1]
    assert mend.startswith(
        "  mend them with: UPDATE agentexecutions SET started_at = "
        "strftime('%Y-%m-%d %H:%M:%f', started_at) WHERE typeof(started_at) = 'text' AND NOT ("
    )
    with pytest.warns(OddTimesWarning, match="agentexecutions.started_at holds times like"):
        connect(other_programs_db, now=lambda: NOW)
    path = other_programs_db.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        connection.execute(mend.split(": ", 1)[1])
        times = [row[0] for row in connection.execute("SELECT started_at FROM agentexecutions")]
    assert times == [started for started, _, _ in ROWS] + ["2026-01-12 08:20:00.000"]
    assert check_db(other_programs_db).ok
    hour = connect(other_programs_db, now=lambda: NOW).overview(
        start_date="2026-01-12", end_date="2026-01-12", exact=True
    )
    assert (hour.total_executions, hour.total_cost_usd) == (6, Decimal("95"))  # 31 + 64


def test_an_id_sqlite_stored_as_a_number_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A column declared UUID has NUMERIC affinity: an id of digits only is stored as a number
    (a long one as a REAL, its digits lost). Reading it says so, instead of an AttributeError."""
    url = _document_sqlite_holding(tmp_path, "12345678123456781234567812345678", None)
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        kind = connection.execute("SELECT typeof(id) FROM agentexecutions").fetchone()
    assert kind == ("real",)
    analytics = connect(url, now=lambda: NOW)
    assert analytics.overview(period="24h").total_executions == 1  # aggregates read no ids
    said = "an id column holds 1.2345678123456782e+31 (stored as float), not a UUID"
    with pytest.raises(SchemaError, match=re.escape(said)):
        analytics.executions(period="24h")
    capsys.readouterr()
    assert main(["--db", url, "executions", "--period", "365d"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"aa-notebooks: error: {said}") and "Traceback" not in err


def test_text_that_is_no_uuid_in_an_id_column_is_a_clear_error(tmp_path: Path) -> None:
    """Another program's `agent_id = 'planner-agent'`: every read that groups by agent says
    which value is wrong, not `ValueError: badly formed hexadecimal UUID string`."""
    url = _document_sqlite_holding(tmp_path, str(uuid.uuid4()), "planner-agent")
    analytics = connect(url, now=lambda: NOW)
    said = "an id column holds 'planner-agent', which is not a UUID"
    for read in (
        lambda: analytics.overview(period="24h"),
        lambda: analytics.executions(period="24h"),
        lambda: analytics.cost_summary(period="24h", by="agent"),
    ):
        with pytest.raises(SchemaError, match=re.escape(said)):
            read()


def _document_sqlite_holding(tmp_path: Path, execution_id: str, agent_id: str | None) -> str:
    """A DDL-made SQLite file holding one run at 10:00 on NOW's day, its ids as given."""
    path = tmp_path / "agentos.db"
    url = document_sqlite(path)
    with sqlite3.connect(path) as connection:
        connection.execute(
            "INSERT INTO agentexecutions (id, request_id, session_id, agent_id, agent_name, "
            "status, cost_usd, started_at) VALUES (?, ?, ?, ?, 'a', 'success', 1.5, "
            "'2026-01-12 10:00:00')",
            (execution_id, str(uuid.uuid4()), str(uuid.uuid4()), agent_id),
        )
    return url


def test_check_db_names_ids_that_are_not_uuids(tmp_path: Path) -> None:
    """A slug in agent_id and digits SQLite kept as a number in id: check-db names both (from
    the first and last rows) and exits 1; dashed and plain-hex UUIDs are taken."""
    url = _document_sqlite_holding(tmp_path, str(uuid.uuid4()), uuid.uuid4().hex)
    assert check_db(url).odd_ids == {} and check_db(url).ok
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        connection.execute(
            "INSERT INTO agentexecutions (id, request_id, session_id, agent_id, agent_name, "
            "status, started_at) VALUES ('12345678123456781234567812345678', ?, ?, "
            "'planner-agent', 'a', 'success', '2026-01-12 11:00:00')",
            (str(uuid.uuid4()), str(uuid.uuid4())),
        )
    report = check_db(url)
    assert report.odd_ids == {
        "agentexecutions.id": 1.2345678123456782e31,
        "agentexecutions.agent_id": "planner-agent",
    }
    assert not report.ok
    assert str(report).splitlines()[-1] == (
        "  agentexecutions.agent_id holds values like 'planner-agent', which are not UUIDs: "
        "reads through such rows fail; write UUIDs there (str(uuid), which SQLite keeps as "
        "text) or NULL"
    )
    assert main(["--db", url, "check-db"]) == 1
