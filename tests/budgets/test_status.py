"""budget_status: status at the exact boundary values, percent, remaining, burn rate and the
projected date worked out by hand, with nothing written, recorded, rebuilt or emailed, even on a
read-only database; evaluate_budgets: the same statuses, current_spend_usd written back in
cents."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import func, select

from aa_notebooks.budgets import (
    Status,
    budget_status,
    check_budget,
    create_budget,
    evaluate_budgets,
    record_execution,
    wait_for_deliveries,
)
from aa_notebooks.budgets import spend as budget_spend
from aa_notebooks.budgets.client import connect_budgets
from aa_notebooks.db.engine import dispose_engine, get_engine
from aa_notebooks.db.records import AgentExecutionCreate
from aa_notebooks.db.schema import AgentExecution, BudgetSpendLedger
from aa_notebooks.errors import BudgetExceededError, ConfigurationError
from tests.budgets.conftest import (
    ALICE,
    BOB,
    NOW,
    events,
    insert_directly,
    read_only,
    record,
    stored_spends,
)
from tests.notify.smtp_server import Inbox

HOUR_AGO = NOW - timedelta(hours=1)


@pytest.mark.parametrize(
    ("spend", "status", "percent", "remaining"),
    [
        ("0", Status.ok, "0.00", "100.00"),
        ("79.99", Status.ok, "79.99", "20.01"),
        ("79.999999", Status.ok, "80.00", "20.000001"),  # shown as 80.00%, still below 80
        ("80.00", Status.warning, "80.00", "20.00"),
        ("99.999999", Status.warning, "100.00", "0.000001"),
        ("100.00", Status.exceeded, "100.00", "0"),
        ("100.000001", Status.exceeded, "100.00", "0"),
        ("250", Status.exceeded, "250.00", "0"),
    ],
)
def test_status_at_the_boundaries(
    db_url: str, spend: str, status: Status, percent: str, remaining: str
) -> None:
    """threshold $100, alert at 80%: warning from $80.00, exceeded from $100.00."""
    if Decimal(spend):
        record(db_url, spend, HOUR_AGO)
    create_budget(db_url, threshold_usd=100, alert_at_percentage=80, alert_type="warning")
    [result] = budget_status(db_url, now=NOW)
    assert result.spend_usd == Decimal(spend)
    assert result.status is status
    assert result.percent_used == Decimal(percent)
    assert result.remaining_usd == Decimal(remaining)


def test_alert_at_100_percent_means_no_separate_warning(db_url: str) -> None:
    record(db_url, "99.99", HOUR_AGO)
    create_budget(db_url, threshold_usd=100, alert_at_percentage=100, alert_type="warning")
    assert budget_status(db_url, now=NOW)[0].status is Status.ok


@pytest.mark.parametrize(
    ("spend", "burn", "projected"),
    [
        # rate = spend / 10 days; projected = now + (100 - spend) / rate
        ("60", "6.000000", NOW + timedelta(days=6, hours=16)),  # 40 / 6 = 6 2/3 days
        ("50", "5.000000", NOW + timedelta(days=10)),  # 50 / 5 = 10 days: just within a period
        ("49.99", "4.999000", None),  # 50.01 / 4.999 = 10.004 days: beyond one period
        # 24.5 / 7.55 days = 24.5 * 10 * 86,400 / 75.5 s = 280,370.86 s, rounded to the second
        ("75.5", "7.550000", NOW + timedelta(seconds=280_371)),
        ("0", "0.000000", None),  # nothing spent: no rate, no date
        ("100", "10.000000", NOW),  # reached: now
        ("130", "13.000000", NOW),
    ],
)
def test_burn_rate_and_projected_exhaustion(
    db_url: str, spend: str, burn: str, projected: object
) -> None:
    if Decimal(spend):
        record(db_url, spend, HOUR_AGO)
    create_budget(db_url, threshold_usd=100, period_days=10, alert_type="warning")
    [result] = budget_status(db_url, now=NOW)
    assert result.daily_burn_usd == Decimal(burn)
    assert result.projected_exhaustion == projected


@pytest.mark.parametrize(
    ("costs", "cents"),
    [(["12.344999"], "12.34"), (["12.345"], "12.35"), (["0.004", "0.001"], "0.01")],
)
def test_current_spend_is_written_back_in_cents(db_url: str, costs: list[str], cents: str) -> None:
    for cost in costs:
        record(db_url, cost, HOUR_AGO)
    budget = create_budget(db_url, threshold_usd=100, alert_type="warning")
    assert stored_spends(db_url) == {budget.id: 0.0}
    [result] = evaluate_budgets(db_url, now=NOW).statuses
    assert result.spend_usd == sum(map(Decimal, costs))  # exact: not rounded
    assert stored_spends(db_url) == {budget.id: float(cents)}


def test_only_active_budgets_and_the_users_own(db_url: str) -> None:
    record(db_url, "3", HOUR_AGO, user_id=ALICE)
    record(db_url, "5", HOUR_AGO, user_id=BOB)
    alice = create_budget(db_url, scope="user", user_id=ALICE, threshold_usd=10,
                          alert_type="warning")  # fmt: skip
    create_budget(db_url, scope="user", user_id=BOB, threshold_usd=10, alert_type="warning")
    create_budget(db_url, threshold_usd=10, alert_type="warning", is_active=False)
    assert sorted(s.spend_usd for s in budget_status(db_url, now=NOW)) == [3, 5]
    [mine] = budget_status(db_url, user_id=str(ALICE), now=NOW)
    assert (mine.budget.id, mine.spend_usd) == (alice.id, Decimal(3))


def test_the_dataframe_view(db_url: str) -> None:
    record(db_url, "90", HOUR_AGO)
    budget = create_budget(db_url, name="org", threshold_usd=100, alert_type="hard_stop",
                           period_days=10)  # fmt: skip
    statuses = budget_status(db_url, now=NOW)
    frame = statuses.to_frame()
    assert frame.to_dict("records") == [
        {
            "id": str(budget.id), "name": "org", "scope": "global", "target": None, "user_id": None,
            "per_user": False, "alert_type": "hard_stop", "threshold_usd": 100.0,
            "alert_at_percentage": 80, "alert_levels": [80, 100], "period_days": 10,
            "window_start": pd.Timestamp(NOW - timedelta(days=10)),
            "window_end": pd.Timestamp(NOW), "spend_usd": 90.0, "percent_used": 90.0,
            "status": "warning", "remaining_usd": 10.0, "daily_burn_usd": 9.0,
            "projected_exhaustion": pd.Timestamp(NOW + timedelta(days=10 / 9)),
            "blocking": False, "reason": None,
        }
    ]  # fmt: skip
    assert str(frame["window_end"].dt.tz) == "UTC"
    assert "<table" in statuses._repr_html_()
    empty = budget_status(db_url, user_id=ALICE, now=NOW).to_frame()
    assert list(empty.columns) == list(frame.columns) and empty.empty


def test_status_writes_nothing_and_evaluation_gives_the_same_statuses(
    db_url: str, mail: Inbox
) -> None:
    """A budget created over its warning level has an event due at evaluation: budget_status
    shows the warning but records no event, sends no email and leaves current_spend_usd."""
    record(db_url, "90", HOUR_AGO, user_id=ALICE)
    record(db_url, "30", HOUR_AGO, user_id=BOB)
    org = create_budget(db_url, name="org", threshold_usd=100, alert_type="hard_stop")
    alice = create_budget(db_url, name="alice", scope="user", user_id=ALICE, threshold_usd=200,
                          alert_type="warning")  # fmt: skip
    read = budget_status(db_url, now=NOW)
    assert [(s.budget.name, s.spend_usd, s.status) for s in read] == [
        ("alice", Decimal(90), Status.ok),
        ("org", Decimal(120), Status.exceeded),
    ]
    assert stored_spends(db_url) == {alice.id: 0.0, org.id: 0.0}
    assert events(db_url) == [] and mail.messages == []
    evaluated = evaluate_budgets(db_url, now=NOW)
    assert evaluated.to_frame().equals(read.to_frame())
    assert stored_spends(db_url) == {alice.id: 90.0, org.id: 120.0}
    assert events(db_url) == [("warning", Decimal(120), True), ("exceeded", Decimal(120), True)]
    assert len(mail.messages) == 2
    assert budget_status(db_url, now=NOW).to_frame().equals(read.to_frame())
    assert len(events(db_url)) == 2 and len(mail.messages) == 2


def test_status_leaves_a_stale_ledger_alone(db_url: str) -> None:
    """Evaluation repairs a ledger a writer bypassed; budget_status reads the executions (the
    exact spend) and leaves the ledger as it was."""
    create_budget(db_url, threshold_usd=7, alert_type="hard_stop")
    check_budget(db_url, now=NOW)  # the ledger is filled and trusted
    insert_directly(db_url, "8", NOW - timedelta(days=3))
    [status] = budget_status(db_url, now=NOW)
    assert (status.spend_usd, status.status) == (Decimal(8), Status.exceeded)
    assert global_ledger_micros(db_url) == 0  # the ledger still misses the $8: not rebuilt
    with pytest.raises(BudgetExceededError):  # (the check reads that marked hour otherwise)
        check_budget(db_url, now=NOW)
    evaluate_budgets(db_url, now=NOW)
    assert global_ledger_micros(db_url) == 8_000_000


def global_ledger_micros(url: str) -> int:
    """What the spend ledger holds for the global scope, in micro-dollars."""
    ledger = BudgetSpendLedger.__table__
    query = select(func.coalesce(func.sum(ledger.c.spend_micro_usd), 0)).where(
        ledger.c.scope == "global"
    )
    with get_engine(url).connect() as connection:
        return int(connection.execute(query).scalar_one())


def test_status_works_on_a_database_the_kit_may_only_read(db_url: str) -> None:
    record(db_url, "85", HOUR_AGO)
    create_budget(db_url, name="org", threshold_usd=100, alert_type="warning")
    url = read_only(db_url)
    with pytest.raises(ConfigurationError) as refused:
        evaluate_budgets(url, now=NOW)
    assert str(refused.value).startswith(
        "budgets evaluate writes to the database, which refuses it here ("
    )
    assert str(refused.value).endswith(
        "): give it a database URL whose role may write, or only read with `budgets status`"
    )
    assert "read-only" in str(refused.value) or "readonly" in str(refused.value)
    [status] = budget_status(url, now=NOW)
    assert (status.spend_usd, status.status) == (Decimal(85), Status.warning)
    dispose_engine(url)


def test_budgets_of_one_period_share_the_rollups_reading_plan(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three budgets of a day and one of a week: the rollups are asked how they answer a day's
    window once and a week's once, and each budget's spend is still its own."""
    record(db_url, "3", HOUR_AGO, user_id=ALICE)
    record(db_url, "5", NOW - timedelta(days=3), user_id=BOB)
    day = {"threshold_usd": 10, "alert_type": "warning", "period_days": 1}
    for user in (ALICE, BOB):
        create_budget(db_url, scope="user", user_id=user, **day)
    create_budget(db_url, **day)
    create_budget(db_url, **{**day, "period_days": 7})
    asked: list[int] = []
    plan_of = budget_spend.spend_plan

    def counted(connection, window):  # type: ignore[no-untyped-def]
        asked.append((window.end - window.start).days)
        return plan_of(connection, window)

    monkeypatch.setattr(budget_spend, "spend_plan", counted)
    spends = sorted((s.budget.period_days, s.spend_usd) for s in budget_status(db_url, now=NOW))
    assert spends == [(1, 0), (1, 3), (1, 3), (7, 8)]
    assert sorted(asked) == [1, 7]


def test_the_client_s_statuses_have_a_frame_as_its_other_results(db_url: str) -> None:
    """The README says every BudgetClient result has `.frame`; `status()` had only to_frame()."""
    record(db_url, "85", HOUR_AGO)
    create_budget(db_url, name="org", threshold_usd=100, alert_type="warning")
    statuses = connect_budgets(db_url, now=lambda: NOW).status()
    assert list(statuses.frame[["name", "spend_usd", "status"]].itertuples(index=False)) == [
        ("org", 85.0, "warning")
    ]


def test_a_run_recorded_without_times_starts_at_the_given_now(db_url: str) -> None:
    """`record_execution(..., now=NOW)` with neither time is a run that started at NOW (a
    replay of an earlier run): stored at the real clock instead, its $0.90 of a $1.00 budget was
    counted in NOW's window by the ledger but filed today, and no warning fired."""
    budget = create_budget(db_url, threshold_usd=1, alert_type="warning")
    execution = AgentExecutionCreate(status="success", cost_usd=Decimal("0.9"),
                                     execution_time_ms=1500)  # fmt: skip
    record_execution(db_url, execution, now=NOW)
    assert wait_for_deliveries(30)
    with get_engine(db_url).connect() as connection:
        stored = connection.execute(select(AgentExecution.started_at, AgentExecution.completed_at))
        assert [tuple(row) for row in stored] == [(NOW, NOW + timedelta(milliseconds=1500))]
    assert [(kind, spend) for kind, spend, _ in events(db_url)] == [("warning", Decimal("0.9"))]
    assert [(s.budget.id, s.spend_usd) for s in budget_status(db_url, now=NOW)] == [
        (budget.id, Decimal("0.9"))
    ]
