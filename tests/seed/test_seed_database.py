"""seed_database on SQLite and PostgreSQL: the contract's numbers, consistent, repeatable rows."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from sqlalchemy import func, inspect, select

import aa_notebooks.seed
from aa_notebooks.db.engine import get_engine, session_factory
from aa_notebooks.db.schema import (
    AgentExecution,
    BudgetAlert,
    ExecutionTrace,
    TokenUsage,
    User,
)
from aa_notebooks.errors import InvalidInputError
from aa_notebooks.pricing import is_priced
from aa_notebooks.seed import SeedReport, seed_database
from aa_notebooks.seed.catalog import UNPRICED_MODEL, USERS
from tests.seed.conftest import NOW

CENT = Decimal("0.01")
# Published per-million USD rates (input, output, cache read), written out by hand.
RATES = {
    "gpt-4o": (Decimal("2.50"), Decimal("10.00"), Decimal("1.25")),
    "gpt-4o-mini": (Decimal("0.15"), Decimal("0.60"), Decimal("0.075")),
    "claude-3-5-sonnet-20241022": (Decimal("3.00"), Decimal("15.00"), Decimal("0.30")),
}


def _rows(url: str, model: type) -> list[Any]:
    with session_factory(url)() as session:
        return list(session.scalars(select(model).order_by(model.id)))


def _snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the seeded tables, as tuples in id order."""
    snapshot = {}
    for model in (AgentExecution, ExecutionTrace, TokenUsage, BudgetAlert, User):
        columns = [c.key for c in model.__mapper__.column_attrs]
        snapshot[model.__tablename__] = [
            tuple(getattr(row, c) for c in columns) for row in _rows(url, model)
        ]
    return snapshot


def _by_execution(rows: list[Any]) -> dict[Any, list[Any]]:
    grouped = defaultdict(list)
    for row in rows:
        grouped[row.execution_id].append(row)
    return grouped


def test_default_counts_match_the_document(seeded: tuple[str, SeedReport]) -> None:
    url, report = seeded
    executions, traces = _rows(url, AgentExecution), _rows(url, ExecutionTrace)
    usages, budgets = _rows(url, TokenUsage), _rows(url, BudgetAlert)
    assert len(executions) == report.executions == 250
    assert len(usages) == report.token_usages >= 750
    assert len(traces) == report.trace_steps >= 1000
    assert len(budgets) == report.budget_alerts == 3
    assert {u.username for u in _rows(url, User)} == {u.username for u in USERS}
    assert "250 executions" in str(report) and "3 budget alerts" in str(report)


def test_executions_start_within_the_last_90_days(seeded: tuple[str, SeedReport]) -> None:
    url, report = seeded
    executions = _rows(url, AgentExecution)
    assert report.span_start == NOW - timedelta(days=90) and report.span_end == NOW
    assert all(NOW - timedelta(days=90) <= e.started_at < NOW for e in executions)
    assert all(e.completed_at <= NOW for e in executions)
    recent = sum(e.started_at >= NOW - timedelta(days=30) for e in executions)
    oldest = sum(e.started_at < NOW - timedelta(days=60) for e in executions)
    assert recent > oldest


def test_shares_of_success_failure_and_timeout(seeded: tuple[str, SeedReport]) -> None:
    executions = _rows(seeded[0], AgentExecution)
    shares = Counter(e.status.value for e in executions)
    # Statuses come in shuffled blocks of 20: 17 success, 2 failure, 1 timeout.
    assert 210 <= shares["success"] <= 215
    assert 24 <= shares["failure"] <= 27
    assert 11 <= shares["timeout"] <= 14
    for e in executions:
        if e.status.value == "success":
            assert e.error_type is None and e.error_message is None
        else:
            assert e.error_type and e.error_message
        if e.status.value == "timeout":
            assert e.error_type == "TimeoutError" and e.execution_time_ms >= 120_000
    assert {"RateLimitError", "ToolExecutionError"} <= {e.error_type for e in executions}


def test_react_sequences(seeded: tuple[str, SeedReport]) -> None:
    url = seeded[0]
    steps_of = _by_execution(_rows(url, ExecutionTrace))
    kinds = Counter()
    for execution in _rows(url, AgentExecution):
        steps = sorted(steps_of[execution.id], key=lambda s: s.step_number)
        types = [s.step_type.value for s in steps]
        kinds.update(types)
        assert [s.step_number for s in steps] == list(range(1, len(steps) + 1))
        assert types[0] == "thought"
        for position, kind in enumerate(types[:-1]):
            follows = {
                "thought": {"tool_call", "action"},
                "tool_call": {"observation"},
                "action": {"observation"},
                "observation": {"thought", "final_answer"},
            }[kind]
            assert types[position + 1] in follows, types
        if execution.status.value == "success":
            assert types[-1] == "final_answer"
        else:
            assert "final_answer" not in types
        if execution.status.value == "failure":
            assert types[-1] == "observation"
            assert execution.error_message in steps[-1].content
        if execution.status.value == "timeout":
            assert types[-1] in {"tool_call", "action"}
    assert kinds["tool_call"] > kinds["action"] > 0


def test_execution_totals_are_the_sums_of_their_parts(seeded: tuple[str, SeedReport]) -> None:
    url = seeded[0]
    usages_of = _by_execution(_rows(url, TokenUsage))
    steps_of = _by_execution(_rows(url, ExecutionTrace))
    for e in _rows(url, AgentExecution):
        usages, steps = usages_of[e.id], steps_of[e.id]
        assert e.input_tokens == sum(u.input_tokens for u in usages)
        assert e.output_tokens == sum(u.output_tokens for u in usages)
        assert e.total_tokens == e.input_tokens + e.output_tokens
        assert e.cost_usd == sum(u.cost_usd for u in usages)
        assert e.input_tokens == sum(s.input_tokens for s in steps)
        assert e.execution_time_ms >= sum(s.duration_ms for s in steps)
        assert 0 < e.llm_time_ms < e.execution_time_ms
        assert e.completed_at == e.started_at + timedelta(milliseconds=e.execution_time_ms)
        assert all(e.started_at <= s.timestamp <= e.completed_at for s in steps)
        assert {u.component for u in usages} <= {"main_agent", "tool_call", "sub_agent"}
        step_numbers = {s.step_number for s in steps}
        assert all(u.step_number in step_numbers for u in usages)


def test_usage_costs_match_published_rates(seeded: tuple[str, SeedReport]) -> None:
    checked = Counter()
    for usage in _rows(seeded[0], TokenUsage):
        if usage.model in RATES:
            per_input, per_output, per_cache_read = RATES[usage.model]
            fresh = usage.input_tokens - usage.cache_read_tokens
            expected = (
                fresh * per_input
                + usage.cache_read_tokens * per_cache_read
                + usage.output_tokens * per_output
            ) / 10**6
            assert usage.cost_usd == expected.quantize(Decimal("0.000001"), ROUND_HALF_UP)
            checked[usage.model, usage.cache_read_tokens > 0] += 1
        if usage.model == UNPRICED_MODEL:
            assert usage.cost_usd == 0
    assert {model for model, _ in checked} == set(RATES)
    assert checked["gpt-4o", True] and checked["claude-3-5-sonnet-20241022", True]
    assert not is_priced(UNPRICED_MODEL)


def test_later_main_agent_calls_read_the_previous_context_from_the_cache(
    seeded: tuple[str, SeedReport],
) -> None:
    """Each execution's first main_agent call reads nothing from the cache; each later one reads
    the previous call's whole input (its context); other components read nothing."""
    for rows in _by_execution(_rows(seeded[0], TokenUsage)).values():
        main = sorted((r for r in rows if r.component == "main_agent"), key=lambda r: r.step_number)
        assert [r.cache_read_tokens for r in main] == [0] + [r.input_tokens for r in main[:-1]]
        assert all(r.cache_read_tokens == 0 for r in rows if r.component != "main_agent")
        assert all(r.cache_write_tokens is None and r.reasoning_tokens is None for r in rows)


def test_usage_rows_record_the_price_that_costed_them(seeded: tuple[str, SeedReport]) -> None:
    from importlib.metadata import version

    provenance = {(r.model, r.price_source, r.price_date) for r in _rows(seeded[0], TokenUsage)}
    table = f"genai-prices {version('genai-prices')}"
    assert {model for model, source, _ in provenance if source == table} == set(RATES) | {
        "claude-3-5-haiku-20241022", "gemini-1.5-flash", "gemini-1.5-pro",
    }  # fmt: skip
    assert (UNPRICED_MODEL, None, None) in provenance
    assert len({model for model, _, _ in provenance}) == len(provenance)  # one price per model


def test_vocabulary(seeded: tuple[str, SeedReport]) -> None:
    executions = _rows(seeded[0], AgentExecution)
    models = Counter(e.model_name for e in executions)
    assert {"gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet-20241022"} <= set(models)
    assert 0 < models[UNPRICED_MODEL] < 0.05 * len(executions)
    assert len({e.agent_name for e in executions}) >= 6
    assert len({(e.agent_name, e.agent_id) for e in executions}) == len(
        {e.agent_name for e in executions}
    )
    assert len({e.user_id for e in executions}) == len(USERS)
    assert 0 < sum(e.flow_id is not None for e in executions) < len(executions)
    previews = [e.query_preview for e in executions]
    assert all(0 < len(p) <= 100 for p in previews)
    assert any('"' in p for p in previews) and any("'" in p for p in previews)
    assert any("<b>" in p for p in previews)


def test_budget_alerts_are_one_of_each_kind(seeded: tuple[str, SeedReport]) -> None:
    url = seeded[0]
    executions = _rows(url, AgentExecution)
    budgets = {b.scope.value: b for b in _rows(url, BudgetAlert)}
    assert set(budgets) == {"global", "agent", "user"}
    assert budgets["global"].alert_type.value == "warning" and budgets["global"].target is None
    assert budgets["agent"].alert_type.value == "hard_stop"
    assert budgets["agent"].target in {e.agent_name for e in executions}
    assert budgets["user"].user_id == USERS[0].id

    def spend(budget: BudgetAlert, match) -> Decimal:
        since = NOW - timedelta(days=budget.period_days)
        return sum(e.cost_usd for e in executions if e.started_at >= since and match(e))

    matchers = {
        "global": lambda e: True,
        "agent": lambda e: e.agent_name == budgets["agent"].target,
        "user": lambda e: e.user_id == budgets["user"].user_id,
    }
    ratios = {}
    for scope, budget in budgets.items():
        exact = spend(budget, matchers[scope])
        assert budget.current_spend_usd == exact.quantize(Decimal("0.01"), ROUND_HALF_UP) > 0
        ratios[scope] = exact / budget.threshold_usd * 100
    alert_at = {scope: b.alert_at_percentage for scope, b in budgets.items()}
    assert alert_at["global"] <= ratios["global"] < 100  # warning
    assert ratios["agent"] >= 100  # exceeded
    # just under the alert: under 78% of the threshold, which is the smallest amount in cents
    # that keeps it there (one cent less and the spend is 78% or more)
    user_spend, user_threshold = (
        spend(budgets["user"], matchers["user"]),
        budgets["user"].threshold_usd,
    )
    assert ratios["user"] <= 78 < user_spend / (user_threshold - CENT) * 100
    assert ratios["user"] < alert_at["user"]


def test_same_seed_same_rows_other_seed_other_rows(db_url: str) -> None:
    seed_database(db_url, now=NOW, seed=7)
    first = _snapshot(db_url)
    seed_database(db_url, now=NOW, seed=7, reset=True)
    assert _snapshot(db_url) == first
    seed_database(db_url, now=NOW, seed=8, reset=True)
    other = _snapshot(db_url)
    assert other["agentexecutions"] != first["agentexecutions"]
    assert not {r[0] for r in other["agentexecutions"]} & {r[0] for r in first["agentexecutions"]}
    assert other["users"] == first["users"]


def test_refuses_existing_executions_unless_reset(seeded: tuple[str, SeedReport]) -> None:
    url = seeded[0]
    with pytest.raises(InvalidInputError, match=r"already holds 250 executions.*reset=True"):
        seed_database(url, now=NOW, executions=10)
    report = seed_database(url, now=NOW, executions=40, reset=True)
    assert report.deleted_executions == 250 and "replacing 250 executions" in str(report)
    with session_factory(url)() as session:
        assert session.scalar(select(func.count()).select_from(AgentExecution)) == 40
        assert session.scalar(select(func.count()).select_from(BudgetAlert)) == 3
        assert session.scalar(select(func.count()).select_from(User)) == len(USERS)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [({"executions": 0}, "executions must be"), ({"days": -1}, "days must be")],
)
def test_rejects_bad_arguments(db_url: str, arguments: dict[str, int], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        seed_database(db_url, now=NOW, **arguments)


def test_two_thousand_executions(db_url: str) -> None:
    report = seed_database(db_url, now=NOW, executions=2_000, days=30)
    assert report.executions == 2_000
    assert 4 * 2_000 <= report.trace_steps <= 6 * 2_000
    assert 3 * 2_000 <= report.token_usages <= 4 * 2_000
    with session_factory(db_url)() as session:
        execution_tokens = session.scalar(select(func.sum(AgentExecution.total_tokens)))
        usage_tokens = session.scalar(
            select(func.sum(TokenUsage.input_tokens + TokenUsage.output_tokens))
        )
        oldest = session.scalar(select(func.min(AgentExecution.started_at)))
    assert execution_tokens == usage_tokens
    assert oldest >= NOW - timedelta(days=30)


def test_a_failed_seed_leaves_the_database_as_it_was(
    seeded: tuple[str, SeedReport], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = seeded[0]
    before = _snapshot(url)
    indexes = inspect(get_engine(url)).get_indexes("agentexecutions")

    def fail(*_: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(aa_notebooks.seed, "budget_alerts", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        seed_database(url, now=NOW, seed=1, reset=True)
    assert _snapshot(url) == before
    assert inspect(get_engine(url)).get_indexes("agentexecutions") == indexes


def test_refuses_a_database_it_did_not_create(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'agentos.db'}"
    with get_engine(url).begin() as connection:
        connection.exec_driver_sql("CREATE TABLE agentexecutions (id CHAR(32) PRIMARY KEY)")
    with pytest.raises(InvalidInputError, match="belongs to GenAI AgentOS"):
        seed_database(url, now=NOW)


def test_a_big_sqlite_seed_writes_the_same_rows_with_the_rollback_journal(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ROLLBACK_JOURNAL_FROM a SQLite seed writes without WAL (no second copy of the
    database on disk); the rows are those of the same seed written in WAL, and the database is
    in WAL again afterwards."""
    in_wal, journalled = (f"sqlite:///{tmp_path / name}" for name in ("wal.db", "journal.db"))
    seed_database(in_wal, now=NOW, seed=3)
    monkeypatch.setattr(aa_notebooks.seed, "ROLLBACK_JOURNAL_FROM", 100)
    seed_database(journalled, now=NOW, seed=3)
    assert _snapshot(journalled) == _snapshot(in_wal)
    with get_engine(journalled).connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
    assert not (tmp_path / "journal.db-journal").exists()
