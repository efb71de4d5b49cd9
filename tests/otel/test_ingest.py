"""Ingesting spans into a real database (SQLite and PostgreSQL) through the batched writer:
whole traces, resent batches, traces in pieces, the hold, late spans, users, AgentOS."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, text

from aa_notebooks.analytics import connect
from aa_notebooks.db.engine import get_engine
from aa_notebooks.otel.ingest import NO_STAGING, WRITTEN_BEFORE, Ingestor
from aa_notebooks.otel.mapping import Filing, execution_id
from aa_notebooks.tracking.writer import BatchWriter
from tests.otel.builders import T0, TRACE, genai_run, span

RUN_ID = execution_id(TRACE, "a000000000000001")
USER = uuid.UUID("11111111-2222-4333-8444-555555555555")


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = T0 + timedelta(hours=1)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ingestor(db_url: str, tmp_path, clock: Clock) -> Iterator[Ingestor]:
    made = Ingestor(db_url, spool_dir=tmp_path / "spool", hold_s=60, linger_s=600, clock=clock)
    yield made
    made.close()


def _rows(url: str, sql: str) -> list[tuple]:
    with get_engine(url).connect() as connection:
        return [tuple(row) for row in connection.execute(text(sql))]


def _counts(url: str) -> tuple[int, int, int]:
    return _rows(
        url,
        "SELECT (SELECT COUNT(*) FROM agentexecutions), (SELECT COUNT(*) FROM executiontraces), "
        "(SELECT COUNT(*) FROM tokenusages)",
    )[0]


def test_a_whole_trace_is_written_and_read_back_like_a_recorded_run(
    ingestor: Ingestor, db_url: str
) -> None:
    outcome = ingestor.ingest(genai_run())
    assert (outcome.spans, outcome.executions, outcome.ignored, outcome.staged) == (5, 1, 1, 0)
    ingestor.flush()
    detail = connect(db_url).execution(RUN_ID)
    row = detail.execution
    assert (row["agent_name"], row["model_name"], row["status"]) == ("Weather", "gpt-4o", "success")
    assert (row["input_tokens"], row["output_tokens"], row["total_tokens"]) == (2500, 300, 2800)
    assert Decimal(str(row["cost_usd"])) == Decimal("0.00499")  # with cache reads at their rate
    steps = detail.traces
    assert list(steps["step_type"]) == ["thought", "tool_call", "observation", "final_answer"]
    assert list(steps["depth"]) == [0, 0, 0, 0]
    usage = detail.token_usage
    assert list(usage["model"]) == ["gpt-4o-mini-2024-07-18", "gpt-4o"]
    assert _rows(db_url, "SELECT cache_read_tokens, cache_write_tokens FROM tokenusages "
                 "ORDER BY step_number") == [(400, 100), (None, None)]  # fmt: skip


def test_a_resent_batch_doubles_nothing(ingestor: Ingestor, db_url: str) -> None:
    ingestor.ingest(genai_run())
    ingestor.ingest(genai_run())
    ingestor.flush()
    ingestor.ingest(genai_run())
    ingestor.flush()
    assert _counts(db_url) == (1, 4, 2)


def test_children_before_their_parent_in_separate_calls_make_one_execution(
    ingestor: Ingestor, db_url: str
) -> None:
    run = genai_run()
    first = ingestor.ingest(run[1:3])
    second = ingestor.ingest(run[3:])
    assert (first.staged, first.executions, second.staged, second.executions) == (2, 0, 2, 0)
    ingestor.flush()
    assert _counts(db_url) == (0, 0, 0)
    third = ingestor.ingest(run[:1])
    assert (third.staged, third.executions) == (1, 1)
    ingestor.flush()
    assert _counts(db_url) == (1, 4, 2)
    assert _rows(db_url, "SELECT agent_name, total_tokens FROM agentexecutions") == [
        ("Weather", 2800)
    ]


def test_an_agent_span_that_arrives_before_its_children_waits_for_them(
    ingestor: Ingestor, db_url: str
) -> None:
    """The agent span alone looks whole, but has nothing under it yet: it is held, and its
    children, in the next call, complete the run."""
    root, *children = genai_run()
    first = ingestor.ingest([root])
    assert (first.executions, first.staged) == (0, 1)
    second = ingestor.ingest(children)
    assert second.executions == 1
    ingestor.flush()
    assert _counts(db_url) == (1, 4, 2)
    assert _rows(db_url, "SELECT agent_name, total_tokens FROM agentexecutions") == [
        ("Weather", 2800)
    ]


def test_after_the_hold_what_is_known_is_written_and_a_late_span_replaces_it(
    ingestor: Ingestor, db_url: str, clock: Clock
) -> None:
    run = genai_run()
    ingestor.ingest(run[1:2])  # the first LLM call alone
    clock.now += timedelta(seconds=59)
    assert ingestor.sweep().executions == 0
    clock.now += timedelta(seconds=2)
    assert ingestor.sweep().executions == 1
    ingestor.flush()
    assert _rows(db_url, "SELECT id, agent_name, total_tokens, cost_usd FROM agentexecutions") == [
        (_stored(db_url, RUN_ID), None, 1200, _money(db_url, "0.000240"))
    ]
    late = ingestor.ingest([run[0], *run[2:]])  # the rest, agent span included, after the write
    assert late.executions == 1
    ingestor.flush()
    assert _counts(db_url) == (1, 4, 2)
    assert _rows(db_url, "SELECT agent_name, total_tokens, cost_usd FROM agentexecutions") == [
        ("Weather", 2800, _money(db_url, "0.004990"))
    ]
    ingestor.ingest(run)  # resent once more: the same rows
    ingestor.flush()
    assert _counts(db_url) == (1, 4, 2)


def test_a_late_span_of_a_trace_written_whole_is_refused_not_a_replacement(
    ingestor: Ingestor, db_url: str
) -> None:
    """A trace that arrived whole was written without staging; a later span of its agent's
    cannot be merged with spans the kit no longer has. It is refused with the reason: a second
    such span used to replace the run with one made of the late spans alone."""
    assert ingestor.ingest(genai_run()).executions == 1
    ingestor.flush()
    before = _rows(db_url, "SELECT agent_name, total_tokens, cost_usd FROM agentexecutions")
    assert before[0][:2] == ("Weather", 2800)
    for number in (5, 6):
        late = span(f"a00000000000000{number}", "a000000000000001", "chat gpt-4o", 400, 500,
                    gen_ai__operation__name="chat", gen_ai__request__model="gpt-4o",
                    gen_ai__usage__input_tokens=5000, gen_ai__usage__output_tokens=10)  # fmt: skip
        outcome = ingestor.ingest([late])
        assert (outcome.executions, outcome.rejected, outcome.reasons) == (0, 1, [WRITTEN_BEFORE])
    ingestor.flush()
    assert _rows(db_url, "SELECT agent_name, total_tokens, cost_usd FROM agentexecutions") == before
    assert _counts(db_url) == (1, 4, 2)


def test_a_late_span_that_comes_before_the_whole_trace_is_committed_is_refused_too(
    db_url: str, tmp_path, clock: Clock
) -> None:
    """The whole trace waits in the writer (its batch is held open for 5 s) when its late span
    comes: the span was taken (200, nothing refused), staged, and later written as the same
    execution id, which the database already held, so its tokens were lost without a word."""
    writer = BatchWriter(db_url, spool_dir=tmp_path / "spool", batch_wait_s=5)
    ingestor = Ingestor(db_url, writer=writer, hold_s=60, clock=clock)
    try:
        assert ingestor.ingest(genai_run()).executions == 1
        late = span("a000000000000005", "a000000000000001", "chat gpt-4o", 400, 500,
                    gen_ai__operation__name="chat", gen_ai__request__model="gpt-4o",
                    gen_ai__usage__input_tokens=5000, gen_ai__usage__output_tokens=10)  # fmt: skip
        outcome = ingestor.ingest([late])
        assert (outcome.staged, outcome.rejected, outcome.reasons) == (0, 1, [WRITTEN_BEFORE])
        assert _counts(db_url) == (0, 0, 0)  # the whole trace was not committed yet
        ingestor.flush()
        assert _rows(db_url, "SELECT agent_name, total_tokens FROM agentexecutions") == [
            ("Weather", 2800)
        ]
    finally:
        ingestor.close()
        writer.close()


def test_a_late_span_taken_by_another_worker_is_dropped_with_a_warning_when_held(
    db_url: str, tmp_path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """`serve --workers 2`: one worker writes the whole trace, the other takes a late span of
    it before the first commits, so it cannot know; when the hold passes, the span is dropped
    with a warning in the log, not written as nothing under the run's id without a word."""
    writer = BatchWriter(db_url, spool_dir=tmp_path / "first", batch_wait_s=5)
    first = Ingestor(db_url, writer=writer, hold_s=60, clock=clock)
    second = Ingestor(db_url, spool_dir=tmp_path / "second", hold_s=60, clock=clock)
    try:
        assert first.ingest(genai_run()).executions == 1
        late = span("a000000000000005", "a000000000000001", "chat gpt-4o", 400, 500,
                    gen_ai__operation__name="chat", gen_ai__request__model="gpt-4o",
                    gen_ai__usage__input_tokens=5000, gen_ai__usage__output_tokens=10)  # fmt: skip
        assert second.ingest([late]).staged == 1  # the other worker's run is not committed
        first.flush()
        clock.now += timedelta(seconds=61)
        with caplog.at_level("WARNING", logger="aa_notebooks.otel.ingest"):
            swept = second.sweep()
        assert (swept.executions, swept.rejected) == (0, 1)
        assert "1 span(s) of trace" in caplog.text and WRITTEN_BEFORE in caplog.text
        second.flush()
        assert _rows(db_url, "SELECT agent_name, total_tokens FROM agentexecutions") == [
            ("Weather", 2800)
        ]
    finally:
        for made in (first, second):
            made.close()
        writer.close()


def test_a_replaced_execution_is_counted_once_in_budget_spend(
    ingestor: Ingestor, db_url: str, clock: Clock
) -> None:
    run = genai_run(user=str(USER))
    ingestor.ingest(run[1:2])
    clock.now += timedelta(seconds=61)
    ingestor.sweep()
    ingestor.flush()
    ingestor.ingest([run[0], *run[2:]])
    ingestor.flush()
    spend = _rows(
        db_url,
        "SELECT scope, SUM(spend_micro_usd) FROM budgetspendledger GROUP BY scope ORDER BY scope",
    )
    assert spend == [("agent", 4990), ("global", 4990), ("user", 4990)]


def test_written_traces_are_forgotten_after_the_linger(
    ingestor: Ingestor, db_url: str, clock: Clock
) -> None:
    run = genai_run()
    ingestor.ingest(run[1:])
    ingestor.ingest(run[:1])
    assert _rows(db_url, "SELECT COUNT(*) FROM otelstagedspans") == [(5,)]
    clock.now += timedelta(seconds=601)
    ingestor.sweep()
    assert _rows(db_url, "SELECT COUNT(*) FROM otelstagedspans") == [(0,)]
    assert _rows(db_url, "SELECT COUNT(*) FROM otelstagedtraces") == [(0,)]


def test_staged_spans_survive_a_restart(db_url: str, tmp_path, clock: Clock) -> None:
    run = genai_run()
    first = Ingestor(db_url, spool_dir=tmp_path / "spool", clock=clock)
    first.ingest(run[1:])
    first.close()
    second = Ingestor(db_url, spool_dir=tmp_path / "spool", clock=clock)
    try:
        assert second.ingest(run[:1]).executions == 1
        second.flush()
    finally:
        second.close()
    assert _counts(db_url) == (1, 4, 2)


def test_server_processes_share_what_each_staged(db_url: str, tmp_path, clock: Clock) -> None:
    """`serve --workers 2`: one process staged the first LLM call; the other gets the agent
    span with the rest, which looks whole, and must still make the run from all of them."""
    run = genai_run()
    first = Ingestor(db_url, spool_dir=tmp_path / "one", clock=clock)
    second = Ingestor(db_url, spool_dir=tmp_path / "two", clock=clock)
    try:
        assert first.ingest(run[1:2]).staged == 1
        rest = second.ingest([run[0], *run[2:]])
        assert (rest.staged, rest.executions) == (4, 1)
        second.flush()
    finally:
        first.close()
        second.close()
    assert _counts(db_url) == (1, 4, 2)
    assert _rows(db_url, "SELECT agent_name, total_tokens FROM agentexecutions") == [
        ("Weather", 2800)
    ]


def test_a_user_token_files_under_its_user_and_cannot_replace_another_users_run(
    ingestor: Ingestor, db_url: str, clock: Clock
) -> None:
    other = uuid.uuid4()
    ingestor.ingest(genai_run(user=str(other)))  # an admin's batch, keeping the span's user
    ingestor.flush()
    run = genai_run()
    ingestor.ingest(run[1:2], USER)  # the same ids, sent by another user's token
    clock.now += timedelta(seconds=61)
    ingestor.sweep()
    ingestor.ingest([run[0], *run[2:]], USER)
    ingestor.flush()
    assert sorted(_rows(db_url, "SELECT user_id, total_tokens FROM agentexecutions")) == sorted(
        [(_stored(db_url, other), 2800), (_stored(db_url, USER), 2800)]
    )
    mine = execution_id(TRACE, "a000000000000001", Filing(USER))
    assert _rows(db_url, f"SELECT COUNT(*) FROM executiontraces WHERE execution_id = "
                 f"'{_stored(db_url, mine)}'") == [(4,)]  # fmt: skip


def test_an_agentos_database_takes_whole_traces_and_refuses_pieces(
    empty_db_url: str, tmp_path, backend: str
) -> None:
    _agentos_schema(empty_db_url)
    ingestor = Ingestor(empty_db_url, spool_dir=tmp_path / "spool")
    try:
        run = genai_run()
        pieces = ingestor.ingest(run[1:])
        assert (pieces.rejected, pieces.reasons) == (4, [NO_STAGING])
        assert ingestor.ingest(run).executions == 1
        ingestor.flush()
    finally:
        ingestor.close()
    assert _rows(empty_db_url, "SELECT agent_name, total_tokens FROM agentexecutions") == [
        ("Weather", 2800)
    ]
    assert _rows(empty_db_url, "SELECT COUNT(*) FROM executiontraces") == [(4,)]


def _agentos_schema(url: str) -> None:
    """The data contract's DDL, as an AgentOS database has it (no kit additions)."""
    pg = url.startswith("postgresql")
    kind = "UUID" if pg else "CHAR(32)"
    enum = "VARCHAR"
    statements = [
        f"CREATE TABLE users (id {kind} PRIMARY KEY)",
        f"CREATE TABLE agentexecutions (id {kind} PRIMARY KEY, user_id {kind} REFERENCES users(id),"
        f" request_id {kind} NOT NULL, session_id {kind} NOT NULL, agent_id {kind},"
        " agent_name VARCHAR, agent_type VARCHAR, model_name VARCHAR,"
        f" status {enum} NOT NULL, input_tokens INTEGER DEFAULT 0, output_tokens INTEGER DEFAULT 0,"
        " total_tokens INTEGER DEFAULT 0, cost_usd NUMERIC(10,6) DEFAULT 0,"
        " execution_time_ms INTEGER DEFAULT 0, llm_time_ms INTEGER DEFAULT 0,"
        " query_preview VARCHAR, error_type VARCHAR, error_message VARCHAR,"
        " started_at TIMESTAMP, completed_at TIMESTAMP)",
        f"CREATE TABLE executiontraces (id {kind} PRIMARY KEY, execution_id {kind} REFERENCES"
        " agentexecutions(id) ON DELETE CASCADE, step_number INTEGER NOT NULL,"
        f" step_type {enum} NOT NULL, content VARCHAR, input_tokens INTEGER DEFAULT 0,"
        " output_tokens INTEGER DEFAULT 0, duration_ms INTEGER DEFAULT 0, timestamp TIMESTAMP)",
        f"CREATE TABLE tokenusages (id {kind} PRIMARY KEY, execution_id {kind} REFERENCES"
        " agentexecutions(id) ON DELETE CASCADE, component VARCHAR, model VARCHAR,"
        " input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,"
        " cost_usd NUMERIC(10,6) NOT NULL, step_number INTEGER)",
    ]
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
    engine.dispose()


def _stored(url: str, value: uuid.UUID) -> object:
    """A UUID as the database driver returns it (UUID on PostgreSQL, hex text on SQLite)."""
    return value if url.startswith("postgresql") else value.hex


def _money(url: str, value: str) -> object:
    return Decimal(value) if url.startswith("postgresql") else float(value)


def test_a_held_trace_the_mapping_fails_on_does_not_hold_back_the_others(
    ingestor: Ingestor, db_url: str, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trace the mapping raises on (a bug of the kit's, for spans nobody foresaw) is dropped
    with a warning; the held trace after it is written at the same sweep."""
    from aa_notebooks.otel import ingest as ingest_module

    other = "1" * 32
    ingestor.ingest(genai_run()[1:2])
    ingestor.ingest(genai_run(trace=other)[1:2])
    real = ingest_module.map_trace

    def failing_on_the_first(spans, filing):
        if spans[0].trace_id == TRACE:
            raise IndexError("list index out of range")
        return real(spans, filing)

    monkeypatch.setattr(ingest_module, "map_trace", failing_on_the_first)
    clock.now += timedelta(seconds=61)
    assert ingestor.sweep().executions == 1
    ingestor.flush()
    assert _rows(db_url, "SELECT COUNT(*) FROM agentexecutions") == [(1,)]
    assert ingestor.sweep().executions == 0  # not tried again


def test_an_execution_whose_sums_leave_their_columns_is_refused_in_the_answer(
    ingestor: Ingestor, db_url: str
) -> None:
    """Each call's 2e9 tokens fit an INTEGER, the run's 4e9 do not: the exporter is told (the
    spans counted as rejected, with the reason) instead of a 200 and a row that never comes."""
    spans = [
        span("b100000000000001", None, "invoke_agent Big", 0, 500,
             gen_ai__operation__name="invoke_agent"),
        span("b100000000000002", "b100000000000001", "chat house", 10, 110,
             gen_ai__operation__name="chat", gen_ai__request__model="house-model",
             gen_ai__usage__input_tokens=2_000_000_000, gen_ai__usage__output_tokens=2_000_000_000),
    ]  # fmt: skip
    outcome = ingestor.ingest(spans)
    assert (outcome.executions, outcome.rejected) == (0, 2)
    [reason] = outcome.reasons
    assert reason.startswith("an execution's sums do not fit their columns: agentexecutions.")
    assert "is out of range" in reason
    ingestor.flush()
    assert _counts(db_url) == (0, 0, 0)


def test_a_price_file_with_a_typo_records_held_traces_unpriced_not_dropped(
    ingestor: Ingestor, db_url: str, clock: Clock, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the tracker does: a PricingError from the mapping made the sweep drop the trace."""
    from aa_notebooks.pricing import reset_pricing_cache

    broken = tmp_path / "prices.toml"
    broken.write_text('[models."gpt-4o"\n')
    monkeypatch.setenv("AA_PRICING_FILE", str(broken))
    reset_pricing_cache()
    ingestor.ingest(genai_run()[1:2])
    clock.now += timedelta(seconds=61)
    with pytest.warns(UserWarning, match="invalid TOML"):
        assert ingestor.sweep().executions == 1
    ingestor.flush()
    assert _rows(db_url, "SELECT COUNT(*) FROM agentexecutions WHERE cost_usd = 0") == [(1,)]
    monkeypatch.delenv("AA_PRICING_FILE")
    reset_pricing_cache()
