"""Hard stop vs warning, recording never refused, and the ledger behind check_budget: equal to
the executions' sum, filled on first use, repaired when a writer bypassed it; the check sees
budgets made elsewhere at once and survives a server that dropped its connections."""

from __future__ import annotations

import itertools
import logging
import random
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

import pytest
from sqlalchemy import create_engine, func, select, text

from aa_notebooks.budgets import (
    Budget,
    apply_spend,
    budget_status,
    check_budget,
    create_budget,
    evaluate_budgets,
    update_budget,
)
from aa_notebooks.budgets.definitions import FRESH_SECONDS
from aa_notebooks.budgets.spend import exact_spend, ledger_spend, rollup_spend, spend_plan
from aa_notebooks.budgets.window import HOUR, SpendWindow, ceil_hour, floor_hour
from aa_notebooks.cli import main
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import AgentExecution, BudgetAlert, BudgetAlertType, BudgetScope
from aa_notebooks.db.url import resolve_url
from aa_notebooks.errors import BudgetExceededError
from tests.budgets.conftest import ALICE, BOB, NOW, RESEARCHER, WRITER, insert_directly, record

EXECUTIONS = AgentExecution.__table__
BUDGETS = BudgetAlert.__table__


def test_a_warning_budget_never_blocks(db_url: str) -> None:
    record(db_url, "500", NOW - timedelta(hours=1))
    create_budget(db_url, threshold_usd=10, alert_type="warning")
    check_budget(db_url, now=NOW)
    [status] = budget_status(db_url, now=NOW)
    assert status.status == "exceeded" and not status.blocking


def test_a_hard_stop_blocks_and_names_budget_spend_and_threshold(db_url: str) -> None:
    record(db_url, "10.004", NOW - timedelta(hours=1))
    create_budget(db_url, name="org cap", threshold_usd=10, alert_type="hard_stop")
    with pytest.raises(BudgetExceededError) as refused:
        check_budget(db_url, now=NOW)
    error = refused.value
    assert (error.budget_name, error.spend_usd, error.threshold_usd) == (
        "org cap", Decimal("10.00"), Decimal("10.00"),
    )  # fmt: skip
    assert "budget 'org cap' is exceeded: $10.00 spent of $10.00 (hard stop)" in str(error)
    assert budget_status(db_url, now=NOW)[0].blocking


def test_an_unnamed_budget_is_named_by_its_id(db_url: str) -> None:
    record(db_url, "2", NOW - timedelta(hours=1))
    budget = create_budget(db_url, threshold_usd=1, alert_type="hard_stop")
    with pytest.raises(BudgetExceededError, match=str(budget.id)):
        check_budget(db_url, now=NOW)


def test_inactive_budgets_and_rolled_over_windows_do_not_block(db_url: str) -> None:
    record(db_url, "5", NOW - timedelta(days=2))
    budget = create_budget(db_url, threshold_usd=5, alert_type="hard_stop", period_days=7)
    with pytest.raises(BudgetExceededError):
        check_budget(db_url, now=NOW)
    check_budget(db_url, now=NOW + timedelta(days=5, seconds=1))  # the spend left the window
    update_budget(db_url, budget.id, is_active=False)
    check_budget(db_url, now=NOW)
    update_budget(db_url, budget.id, is_active=True, threshold_usd="5.01")
    check_budget(db_url, now=NOW)


def test_recording_is_never_refused(db_url: str) -> None:
    create_budget(db_url, threshold_usd=1, alert_type="hard_stop")
    for minute in range(3):
        record(db_url, "1", NOW - timedelta(minutes=10 - minute), now=NOW)
    with get_engine(db_url).connect() as connection:
        assert connection.execute(select(func.count()).select_from(EXECUTIONS)).scalar() == 3
    assert budget_status(db_url, now=NOW)[0].spend_usd == Decimal(3)


def test_apply_spend_in_a_writers_own_transaction(db_url: str) -> None:
    create_budget(db_url, scope="user", user_id=ALICE, threshold_usd=3, alert_type="hard_stop")
    check_budget(db_url, user_id=ALICE, now=NOW)  # the ledger is now in use
    rows = [
        {"id": uuid.uuid4(), "request_id": uuid.uuid4(), "session_id": uuid.uuid4(),
         "status": "success", "user_id": ALICE, "cost_usd": Decimal("1.5"),
         "started_at": NOW - timedelta(minutes=m)}
        for m in (1, 2)
    ]  # fmt: skip
    with get_engine(db_url).begin() as connection:
        connection.execute(EXECUTIONS.insert(), rows)
        apply_spend(connection, rows, now=NOW)
    with pytest.raises(BudgetExceededError):
        check_budget(db_url, user_id=ALICE, now=NOW)


def test_a_rolled_back_write_adds_no_spend(db_url: str) -> None:
    create_budget(db_url, threshold_usd=1, alert_type="hard_stop")
    check_budget(db_url, now=NOW)
    row = {"id": uuid.uuid4(), "request_id": uuid.uuid4(), "session_id": uuid.uuid4(),
           "status": "success", "cost_usd": Decimal(5), "started_at": NOW}  # fmt: skip
    with pytest.raises(RuntimeError), get_engine(db_url).begin() as connection:
        connection.execute(EXECUTIONS.insert().values(**row))
        apply_spend(connection, [row], now=NOW)
        raise RuntimeError("the writer fails before commit")
    check_budget(db_url, now=NOW)


def test_the_first_check_fills_the_ledger_from_existing_executions(db_url: str) -> None:
    insert_directly(db_url, "7", NOW - timedelta(days=3))  # e.g. a seed's bulk load
    create_budget(db_url, threshold_usd=7, alert_type="hard_stop")
    with pytest.raises(BudgetExceededError):
        check_budget(db_url, now=NOW)


def test_evaluation_repairs_a_ledger_a_writer_bypassed(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    create_budget(db_url, name="org", threshold_usd=7, alert_type="hard_stop")
    check_budget(db_url, now=NOW)  # ledger filled and trusted
    insert_directly(db_url, "8", NOW - timedelta(days=3))
    with pytest.raises(BudgetExceededError):  # not in the ledger, but its hour is marked: the
        check_budget(db_url, now=NOW)  # check reads that window from the rollups
    with caplog.at_level(logging.WARNING, logger="aa_notebooks.budgets"):
        [status] = evaluate_budgets(db_url, now=NOW).statuses
    assert status.spend_usd == Decimal(8)
    assert "the spend ledger disagreed with the executions for org" in caplog.text
    with pytest.raises(BudgetExceededError):
        check_budget(db_url, now=NOW)
    caplog.clear()
    evaluate_budgets(db_url, now=NOW)
    assert "disagreed" not in caplog.text


def test_rows_written_behind_the_ledger_count_at_once_and_after_a_rollups_rebuild(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Another program's insert and delete (plain SQL) do not move the ledger; the triggers
    mark their hours, so the check reads the window from the rollups at once, and `rollups
    rebuild`, which clears the marks, refills the ledger's hours in the same transaction."""
    create_budget(db_url, name="org", threshold_usd=7, alert_type="hard_stop")
    record(db_url, "1", NOW - timedelta(days=2))
    check_budget(db_url, now=NOW)  # ledger filled and trusted: $1
    row = insert_directly(db_url, "8", NOW - timedelta(days=3))
    with pytest.raises(BudgetExceededError, match=r"\$9\.00 spent of \$7\.00"):
        check_budget(db_url, now=NOW)
    assert main(["--db", db_url, "rollups", "rebuild"]) == 0  # the marks go, the ledger holds it
    with pytest.raises(BudgetExceededError, match=r"\$9\.00 spent of \$7\.00"):
        check_budget(db_url, now=NOW)
    with get_engine(db_url).begin() as connection:  # a retention job
        connection.execute(
            AgentExecution.__table__.delete().where(AgentExecution.__table__.c.id == row["id"])
        )
    check_budget(db_url, now=NOW)  # $1 of $7: the ledger still holds $9, the check reads $1
    assert main(["--db", db_url, "rollups", "rebuild", "--since", "2000-01-01"]) == 0
    check_budget(db_url, now=NOW)
    with caplog.at_level(logging.WARNING, logger="aa_notebooks.budgets"):
        [status] = evaluate_budgets(db_url, now=NOW).statuses
    assert status.spend_usd == Decimal(1) and "disagreed" not in caplog.text  # ledger exact


@pytest.mark.parametrize(
    "rebuild",
    [["rollups", "enable"], ["reprice", "--start", "2020-01-01", "--end", "2029-12-31"]],
    ids=["enable", "reprice"],
)
def test_every_rebuild_that_clears_the_marks_refills_the_ledger(
    db_url: str, rebuild: list[str]
) -> None:
    """Not only `rollups rebuild`: any rebuild of a day's rollups clears its marks, after which
    the check trusts the ledger's hours again, so each refills them."""
    create_budget(db_url, name="org", threshold_usd=7, alert_type="hard_stop")
    record(db_url, "1", NOW - timedelta(days=2))
    check_budget(db_url, now=NOW)
    insert_directly(db_url, "8", NOW - timedelta(days=3))
    assert main(["--db", db_url, *rebuild]) == 0
    with get_engine(db_url).connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM rollup_dirty_hours")).scalar() == 0
    with pytest.raises(BudgetExceededError, match=r"\$9\.00 spent of \$7\.00"):
        check_budget(db_url, now=NOW)


def test_the_ledger_and_the_rollups_give_the_executions_sum_for_any_window(db_url: str) -> None:
    """Random executions over 40 days and on the edges of the windows; for many `now`s (on the
    hour, before and after its half) and every scope, the ledger hours corrected by the short
    ranges of executions equal the plain SUM, and so do the rollups' hours and days with the
    partial hours summed raw (also once rows changed behind them: their hours read raw)."""
    rng = random.Random(7)
    nows = [NOW, NOW.replace(minute=0), NOW - timedelta(days=3, seconds=17),
            NOW + timedelta(minutes=20)]  # fmt: skip
    times = _edges(nows) + [NOW - timedelta(seconds=rng.randrange(40 * 86_400)) for _ in range(120)]
    for started in times:
        record(db_url, f"{rng.randrange(1, 5_000_000) / 1_000_000:.6f}", started,
               user_id=rng.choice([ALICE, BOB, None]),
               agent_name=rng.choice(["researcher", "writer", None]),
               agent_id=rng.choice([RESEARCHER, WRITER, None]),
               flow_id=rng.choice(["onboarding", "billing", None]))  # fmt: skip
    check_budget(db_url, now=NOW)  # trust the ledger
    budgets = [
        _budget(BudgetScope.global_), _budget(BudgetScope.user, user_id=ALICE),
        _budget(BudgetScope.agent, target="researcher"),
        _budget(BudgetScope.agent, target=str(WRITER)),
        _budget(BudgetScope.flow, target="billing"),
    ]  # fmt: skip
    nows += [NOW - timedelta(seconds=rng.randrange(20 * 86_400)) for _ in range(5)]
    with get_engine(db_url).connect() as connection:
        for budget in budgets:
            for now in nows:
                for days in (1, 7, 30):
                    window = SpendWindow.ending(now, days)
                    exact = exact_spend(connection, budget, window)
                    assert ledger_spend(connection, budget, window) == exact, (budget, now, days)
                    plan = spend_plan(connection, window)
                    assert rollup_spend(connection, budget, window, plan) == exact, (now, days)
    insert_directly(db_url, "7.000001", NOW - timedelta(days=2, minutes=1), agent_name="writer")
    with get_engine(db_url).begin() as connection:
        connection.execute(AgentExecution.__table__.delete().where(
            AgentExecution.started_at < NOW - timedelta(days=4),
            AgentExecution.started_at > NOW - timedelta(days=5),
        ))  # fmt: skip
    with get_engine(db_url).connect() as connection:
        for budget in budgets:
            for days in (1, 7, 30):
                window = SpendWindow.ending(NOW, days)
                exact = exact_spend(connection, budget, window)
                plan = spend_plan(connection, window)
                assert rollup_spend(connection, budget, window, plan) == exact, (budget, days)


def _edges(nows: Sequence[datetime]) -> list[datetime]:
    """Start times on and around every boundary the ledger reads split a window at, for these
    `now`s and periods of 1, 7 and 30 days."""
    second, edges = timedelta(seconds=1), []
    for now, days in itertools.product(nows, (1, 7, 30)):
        start, last_hour = now - timedelta(days=days), floor_hour(now)
        for edge in (start, floor_hour(start), ceil_hour(start), last_hour, now, last_hour + HOUR):
            edges += [edge - second, edge, edge + second]
    return edges


NOTIFIED_WITHIN = 2.0
"""Seconds a budget change made elsewhere may take to reach a PostgreSQL check (a notification
on a local server takes well under a millisecond; the allowance is for a loaded machine)."""


def _budget(scope: BudgetScope, **fields) -> Budget:
    values = {"id": uuid.uuid4(), "name": None, "target": None, "user_id": None,
              "threshold_usd": Decimal(1), "period_days": 30,
              "alert_type": BudgetAlertType.hard_stop, "alert_at_percentage": 80,
              "is_active": True, "email_notification": False,
              "current_spend_usd": Decimal(0)}  # fmt: skip
    return Budget(**{**values, "scope": scope, **fields})


def test_a_budget_made_by_another_process_counts_at_once(db_url: str) -> None:
    """A hard stop inserted through a connection of its own (as another process would) refuses
    the checks once FRESH_SECONDS have passed on SQLite, and once its commit's notification has
    arrived on PostgreSQL (both well within the allowance here); deactivating it frees them."""
    record(db_url, "3", NOW - timedelta(hours=2), agent_name="researcher")
    check_budget(db_url, agent="researcher", now=NOW)  # ledger trusted, budgets copied
    budget_id = uuid.uuid4()
    other = create_engine(resolve_url(db_url))
    try:
        with other.begin() as connection:
            connection.execute(
                BUDGETS.insert().values(id=budget_id, scope="agent", target="researcher",
                                        threshold_usd=Decimal(3), alert_type="hard_stop")
            )  # fmt: skip
        refused = next_check_refuses(db_url, True, agent="researcher", now=NOW)
        assert isinstance(refused, BudgetExceededError) and str(budget_id) in str(refused)
        with other.begin() as connection:
            connection.execute(
                BUDGETS.update().where(BUDGETS.c.id == budget_id).values(is_active=False)
            )
        assert next_check_refuses(db_url, False, agent="researcher", now=NOW) is None
    finally:
        other.dispose()


def next_check_refuses(url: str, expected: bool, **run: object) -> BudgetExceededError | None:
    """The refusal of the next check (None when it lets the run start). A change made elsewhere
    reaches the checks within FRESH_SECONDS on SQLite (a read of the generation answers checks
    for that long) and by a notification on PostgreSQL, so checks are retried until they give
    `expected`, for up to ten times FRESH_SECONDS on SQLite and NOTIFIED_WITHIN on PostgreSQL."""
    waiting = 10 * FRESH_SECONDS if url.startswith("sqlite") else NOTIFIED_WITHIN
    deadline = time.monotonic() + waiting
    while True:
        try:
            check_budget(url, **run)  # type: ignore[arg-type]
            refused = None
        except BudgetExceededError as error:
            refused = error
        if (refused is not None) == expected or time.monotonic() >= deadline:
            return refused
        time.sleep(0.005)


def test_the_check_refuses_exactly_at_the_threshold_for_every_scope_and_period(
    db_url: str,
) -> None:
    """Random executions over 12 days and on every window's edges; for each scope, period and
    `now` (on and off the hour), a hard stop at the exact spend rounded down to cents refuses,
    naming that spend, and one cent more lets the execution start."""
    rng = random.Random(11)
    nows = (NOW, NOW.replace(minute=0), NOW - timedelta(days=3, seconds=17))
    times = _edges(nows) + [NOW - timedelta(seconds=rng.randrange(12 * 86_400)) for _ in range(150)]
    for started in times:
        record(db_url, f"{rng.randrange(1, 5_000_000) / 1_000_000:.6f}", started,
               user_id=rng.choice([ALICE, BOB, None]),
               agent_name=rng.choice(["researcher", "writer", None]),
               agent_id=rng.choice([RESEARCHER, WRITER, None]),
               flow_id=rng.choice(["onboarding", "billing", None]))  # fmt: skip
    execution = {"user_id": ALICE, "agent": "researcher", "agent_id": WRITER, "flow": "billing"}
    scopes = [("global", {}), ("user", {"user_id": ALICE}), ("agent", {"target": "researcher"}),
              ("agent", {"target": str(WRITER)}), ("flow", {"target": "billing"})]  # fmt: skip
    for scope, fields in scopes:
        for days in (1, 7, 30):
            for now in nows:
                budget = _budget(BudgetScope(scope), period_days=days, **fields)
                with get_engine(db_url).connect() as connection:
                    exact = exact_spend(connection, budget, SpendWindow.ending(now, days))
                below = exact.quantize(Decimal("0.01"), rounding=ROUND_DOWN)
                assert 0 < below < exact, "pick another seed: no spend, or whole cents"
                made = create_budget(db_url, scope=scope, threshold_usd=below, period_days=days,
                                     alert_type="hard_stop", **fields)  # fmt: skip
                with pytest.raises(BudgetExceededError) as refused:
                    check_budget(db_url, **execution, now=now)
                assert refused.value.spend_usd == exact.quantize(Decimal("0.01"), ROUND_HALF_UP)
                update_budget(db_url, made.id, threshold_usd=below + Decimal("0.01"))
                check_budget(db_url, **execution, now=now)
                update_budget(db_url, made.id, is_active=False)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_check_reconnects_after_the_server_dropped_its_connections(db_url: str) -> None:
    record(db_url, "2", NOW - timedelta(hours=1))
    create_budget(db_url, threshold_usd=2, alert_type="hard_stop")
    with pytest.raises(BudgetExceededError):
        check_budget(db_url, now=NOW)  # the check's connections are open now
    admin = create_engine(resolve_url(db_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            dropped = connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            ).all()  # fmt: skip
        assert dropped
    finally:
        admin.dispose()
    with pytest.raises(BudgetExceededError):
        check_budget(db_url, now=NOW)
