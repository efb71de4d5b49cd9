"""Budget history: spend per UTC day of each budget's window (every day present, edges included,
adding up to the exact spend) and the alert events that fired, from real crossings."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import text

from aa_notebooks.analytics import connect
from aa_notebooks.budgets import budget_status, create_budget, history, update_budget
from aa_notebooks.budgets.client import BudgetClient, connect_budgets
from aa_notebooks.budgets.history import (
    DAILY_COLUMNS,
    EVENT_COLUMNS,
    budget_alert_events,
    budget_spend_daily,
)
from aa_notebooks.budgets.spend import exact_spend
from aa_notebooks.budgets.window import SpendWindow
from aa_notebooks.db.engine import get_engine
from tests.budgets.conftest import ALICE, BOB, NOW, RESEARCHER, WRITER, insert_directly, record

US = timedelta(microseconds=1)
# NOW is 2024-06-01 12:30; a 3-day window is [05-29 12:30, 06-01 12:30] and touches 4 days.
START = NOW - timedelta(days=3)
EDGES = [
    ("1", START),  # the window's first instant: counted (05-29)
    ("2", START - US),  # just before it: not counted, although on 05-29
    ("16", datetime(2024, 5, 30, tzinfo=UTC)),  # midnight belongs to the day it starts
    ("32", datetime(2024, 5, 31, tzinfo=UTC) - US),  # the last instant of 05-30
    ("4", NOW),  # the window's last instant: counted (06-01)
    ("8", NOW + US),  # after now: not counted
]


def day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def daily(url: str, **kwargs: Any) -> list[tuple[Any, ...]]:
    """(name, day, spend, cumulative) per row of budget_spend_daily at NOW."""
    frame = budget_spend_daily(url, now=NOW, **kwargs)
    return list(frame[["name", "day", "spend_usd", "cumulative_usd"]].itertuples(index=False))


def test_every_day_of_the_window_with_its_edges(db_url: str) -> None:
    for cost, started in EDGES:
        record(db_url, cost, started)
    budget = create_budget(db_url, name="org", threshold_usd=100, alert_at_percentage=75,
                           period_days=3, alert_type="warning")  # fmt: skip
    frame = budget_spend_daily(db_url, now=NOW)
    assert list(frame.columns) == list(DAILY_COLUMNS)
    assert str(frame["day"].dt.tz) == "UTC"
    assert frame.to_dict("records") == [
        {"budget_id": budget.id, "user_id": None, "name": "org", "day": day(d), "spend_usd": spend,
         "cumulative_usd": total, "threshold_usd": 100.0, "alert_level_usd": 75.0}
        for d, spend, total in [
            ("2024-05-29", 1.0, 1.0),
            ("2024-05-30", 48.0, 49.0),
            ("2024-05-31", 0.0, 49.0),
            ("2024-06-01", 4.0, 53.0),
        ]
    ]  # fmt: skip


def test_a_window_ending_at_midnight_has_that_day_too(db_url: str) -> None:
    """The window is closed: at 06-01 00:00 the day 06-01 holds what started at that instant."""
    midnight = datetime(2024, 6, 1, tzinfo=UTC)
    record(db_url, "3", midnight)
    record(db_url, "5", midnight - timedelta(days=1))  # the window's first instant
    create_budget(db_url, name="daily", threshold_usd=10, period_days=1, alert_type="warning")
    frame = budget_spend_daily(db_url, now=midnight)
    assert list(frame[["day", "spend_usd", "cumulative_usd"]].itertuples(index=False)) == [
        (day("2024-05-31"), 5.0, 5.0),
        (day("2024-06-01"), 3.0, 8.0),
    ]


SCOPE_EXECUTIONS: list[tuple[str, timedelta, dict[str, Any]]] = [
    ("1", timedelta(days=1), {"user_id": ALICE, "agent_name": "researcher",
                              "agent_id": RESEARCHER, "flow_id": "onboarding"}),
    ("2", timedelta(hours=1), {"user_id": BOB, "agent_name": "researcher",
                               "agent_id": RESEARCHER}),
    ("4", timedelta(hours=1), {"user_id": ALICE, "agent_name": "writer", "agent_id": WRITER,
                               "flow_id": "billing"}),
    ("8", timedelta(days=1), {"user_id": BOB, "agent_name": "writer", "agent_id": WRITER,
                              "flow_id": "onboarding"}),
    ("16", timedelta(days=1), {"agent_id": RESEARCHER}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("scope", "spends"),
    [
        pytest.param({"scope": "user", "user_id": ALICE}, (1, 4), id="user"),
        pytest.param({"scope": "agent", "target": "researcher"}, (1, 2), id="agent-by-name"),
        pytest.param({"scope": "agent", "target": str(RESEARCHER)}, (17, 2), id="agent-by-id"),
        pytest.param({"scope": "flow", "target": "onboarding"}, (9, 0), id="flow"),
        pytest.param({"scope": "global"}, (25, 6), id="global"),
    ],
)
def test_each_scope_counts_its_executions_per_day(
    db_url: str, scope: dict, spends: tuple[int, int]
) -> None:
    """Costs are powers of two: each day's sum names the executions it counts (05-31, 06-01)."""
    for cost, ago, fields in SCOPE_EXECUTIONS:
        record(db_url, cost, NOW - ago, **fields)
    create_budget(db_url, **scope, name="b", threshold_usd=100, period_days=1,
                  alert_type="warning")  # fmt: skip
    first, last = spends
    assert daily(db_url) == [
        ("b", day("2024-05-31"), float(first), float(first)),
        ("b", day("2024-06-01"), float(last), float(first + last)),
    ]


@pytest.mark.parametrize(
    "scope",
    [
        {"scope": "user", "user_id": ALICE},
        {"scope": "agent", "target": str(RESEARCHER)},
        {"scope": "flow", "target": "onboarding"},
        {"scope": "global"},
        {"per_user": True},
    ],
    ids=["user", "agent", "flow", "global", "per-user"],
)
def test_the_days_from_the_rollups_are_the_raw_ones(
    db_url: str, scope: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A week of the scope executions, spread over whole days and the window's partial ends, one
    run inserted behind the rollups' back and one deleted (both hours then read raw): every
    day's spend is the one summed from the executions, and no day is summed from them whole."""
    for cost, ago, fields in SCOPE_EXECUTIONS:
        for days in (0, 2, 5):
            record(db_url, cost, NOW - ago - timedelta(days=days), **fields)
    insert_directly(db_url, "32", NOW - timedelta(days=3, hours=1), user_id=ALICE,
                    agent_id=RESEARCHER, agent_name="researcher", flow_id="onboarding")  # fmt: skip
    with get_engine(db_url).begin() as connection:  # BOB's writer run of six days ago
        connection.execute(
            text("DELETE FROM agentexecutions WHERE cost_usd = 8 AND started_at < :at"),
            {"at": (NOW - timedelta(days=5)).replace(tzinfo=None)},
        )
    create_budget(db_url, **scope, name="b", threshold_usd=100, period_days=7,
                  alert_type="warning")  # fmt: skip
    summed_whole: list[object] = []
    per_bucket = history.per_bucket

    def watched(*args: Any, **kwargs: Any) -> Any:
        summed_whole.append(args)
        return per_bucket(*args, **kwargs)

    monkeypatch.setattr(history, "per_bucket", watched)
    fast = budget_spend_daily(db_url, now=NOW)
    assert summed_whole == [] and len(fast) == 8 * (2 if scope.get("per_user") else 1)
    monkeypatch.setattr(history, "rollup_daily_spends", lambda *_: None)
    pd.testing.assert_frame_equal(fast, budget_spend_daily(db_url, now=NOW))
    assert summed_whole


def test_the_last_cumulative_is_the_exact_spend(db_url: str) -> None:
    """Costs whose float sums are off (0.1 + 0.2) still add up to the exact window spend."""
    costs = ["0.1", "0.2", "12.345678", "0.000001", "7.7", "0.3"]
    for n, cost in enumerate(costs):
        record(db_url, cost, NOW - timedelta(days=n, hours=3))
    budget = create_budget(db_url, name="org", threshold_usd=50, period_days=7,
                           alert_type="warning")  # fmt: skip
    frame = budget_spend_daily(db_url, now=NOW)
    assert len(frame) == 8  # 05-25 12:30 to 06-01 12:30
    with get_engine(db_url).connect() as connection:
        exact = exact_spend(connection, budget, SpendWindow.ending(NOW, 7))
    assert exact == sum(map(Decimal, costs)) == Decimal("20.645679")
    assert frame["cumulative_usd"].iloc[-1] == float(exact)
    [status] = budget_status(db_url, now=NOW)
    assert status.spend_usd == exact


def test_which_budgets(db_url: str) -> None:
    """Active budgets only, named ones by name; `budget_ids` and `user_id` narrow them."""
    record(db_url, "3", NOW - timedelta(hours=1), user_id=ALICE)
    record(db_url, "5", NOW - timedelta(hours=1), user_id=BOB)
    org = create_budget(db_url, name="org", threshold_usd=100, period_days=1,
                        alert_type="warning", user_id=BOB)  # fmt: skip
    alice = create_budget(db_url, name="alice", scope="user", user_id=ALICE, threshold_usd=10,
                          period_days=1, alert_type="warning")  # fmt: skip
    off = create_budget(db_url, name="off", threshold_usd=1, period_days=1, alert_type="warning")
    update_budget(db_url, off.id, is_active=False)
    today = day("2024-06-01")
    assert [row for row in daily(db_url) if row[1] == today] == [
        ("alice", today, 3.0, 3.0),
        ("org", today, 8.0, 8.0),
    ]
    assert {r[0] for r in daily(db_url, budget_ids=[str(org.id), off.id])} == {"org"}
    assert {r[0] for r in daily(db_url, user_id=ALICE)} == {"alice"}
    scoped = connect_budgets(db_url, user_id=BOB, now=lambda: NOW).spend_daily().frame
    assert set(scoped["budget_id"]) == {org.id}
    everyone = connect_budgets(db_url, now=lambda: NOW).spend_daily(budget_ids=[alice.id]).frame
    assert everyone["cumulative_usd"].tolist() == [0.0, 3.0]


def test_no_budgets_is_an_empty_frame_with_the_columns(db_url: str) -> None:
    frame = budget_spend_daily(db_url, now=NOW)
    assert frame.empty and list(frame.columns) == list(DAILY_COLUMNS)
    assert str(frame["day"].dt.tz) == "UTC"


def test_alert_events_from_real_crossings(db_url: str) -> None:
    """Threshold $10, warning at 80%: $5 two days ago, +$4 yesterday crosses $8 (warning),
    +$2 an hour ago crosses $10 (exceeded). Bob's budget fires too; Alice's client sees only
    hers."""
    org = create_budget(db_url, name="org", threshold_usd=10, alert_type="hard_stop",
                        user_id=ALICE)  # fmt: skip
    bob = create_budget(db_url, name="bob", scope="user", user_id=BOB, threshold_usd=1,
                        alert_at_percentage=100, alert_type="warning")  # fmt: skip
    yesterday, hour_ago = NOW - timedelta(days=1), NOW - timedelta(hours=1)
    record(db_url, "5", NOW - timedelta(days=2), user_id=ALICE)
    record(db_url, "4", yesterday, user_id=ALICE)
    record(db_url, "2", hour_ago, user_id=BOB)  # crosses org's $10 and bob's $1
    everyone = connect_budgets(db_url, now=lambda: NOW)
    frame = everyone.alert_events("7d").frame
    assert list(frame.columns) == list(EVENT_COLUMNS)
    assert frame.to_dict("records") == [
        {"fired_at": pd.Timestamp(hour_ago), "budget_id": bob.id, "name": "bob",
         "scope": "user", "target": None, "user_id": None, "kind": "exceeded", "level_pct": 100,
         "spend_usd": 2.0, "threshold_usd": 1.0, "notified": False, "muted": False},
        {"fired_at": pd.Timestamp(hour_ago), "budget_id": org.id, "name": "org",
         "scope": "global", "target": None, "user_id": None, "kind": "exceeded", "level_pct": 100,
         "spend_usd": 11.0, "threshold_usd": 10.0, "notified": False, "muted": False},
        {"fired_at": pd.Timestamp(yesterday), "budget_id": org.id, "name": "org",
         "scope": "global", "target": None, "user_id": None, "kind": "warning", "level_pct": 80,
         "spend_usd": 9.0, "threshold_usd": 10.0, "notified": False, "muted": False},
    ]  # fmt: skip
    assert str(frame["fired_at"].dt.tz) == "UTC"
    assert everyone.alert_events("2h").frame["kind"].tolist() == ["exceeded", "exceeded"]
    one_day = everyone.alert_events(start_date=date(2024, 5, 31), end_date="2024-05-31").frame
    assert one_day["kind"].tolist() == ["warning"]
    alices = connect_budgets(db_url, user_id=ALICE, now=lambda: NOW).alert_events("7d").frame
    assert alices["name"].tolist() == ["org", "org"]


@pytest.mark.parametrize("scope", ["agent", "flow"])
def test_alert_events_of_agent_and_flow_budgets_name_their_target(db_url: str, scope: str) -> None:
    create_budget(db_url, name="b", scope=scope, target="x", threshold_usd=1,
                  alert_at_percentage=100, alert_type="warning")  # fmt: skip
    record(db_url, "1", NOW - timedelta(hours=1), agent_name="x", flow_id="x")
    frame = budget_alert_events(db_url, connect(db_url, now=lambda: NOW).window("24h"))
    assert frame[["scope", "target", "kind"]].values.tolist() == [[scope, "x", "exceeded"]]


@pytest.mark.postgres
def test_on_an_agentos_database(agentos_url: str) -> None:
    """No event table: no events, not an error; global and user budgets have their days, agent
    budgets (no target column) none."""
    org = create_budget(agentos_url, threshold_usd=10, period_days=1, alert_type="warning")
    mine = create_budget(agentos_url, scope="user", user_id=ALICE, threshold_usd=4,
                         period_days=1, alert_type="warning")  # fmt: skip
    with get_engine(agentos_url).begin() as connection:
        connection.execute(
            text("INSERT INTO budgetalerts (id, scope, threshold_usd, alert_type) "
                 "VALUES (:id, 'agent', 1, 'hard_stop')"),
            {"id": uuid.uuid4()},
        )  # fmt: skip
    record(agentos_url, "6", NOW - timedelta(hours=2), user_id=ALICE)
    record(agentos_url, "1", NOW - timedelta(days=1), agent_name="researcher")
    client = connect(agentos_url, now=lambda: NOW)
    frame = BudgetClient.of(client).spend_daily().frame.sort_values(["budget_id", "day"])
    expected = sorted([[org.id, None, 1.0, 1.0], [org.id, None, 6.0, 7.0],
                       [mine.id, None, 0.0, 0.0], [mine.id, None, 6.0, 6.0]])  # fmt: skip
    columns = ["budget_id", "name", "spend_usd", "cumulative_usd"]
    assert frame[columns].values.tolist() == expected
    events = BudgetClient.of(client).alert_events("30d").frame
    assert events.empty and list(events.columns) == list(EVENT_COLUMNS)
