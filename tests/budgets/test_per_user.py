"""Per-user budgets: one budget that applies to every user separately ("each user may spend $5
a day"), checked against spends worked out by hand, on both databases.

The hand-made history, with the budget "each user" ($5 a day, hard stop, levels 80 and 100):
- ALICE: $3 at NOW - 2h, $2 at NOW - 1h: $5, so 80% ($4) and 100% ($5) fire at once, at $5;
- BOB: $4.50 at NOW - 30 min: 90%, so 80% fires, at $4.50 (ALICE's 80% does not stop it);
- CAROL: $1 two days ago, outside the window: no status row of her own;
- a run with no user: $100 at NOW - 10 min, which no per-user budget counts.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import delete, select

from aa_notebooks.budgets import (
    budget_status,
    check_budget,
    create_budget,
    evaluate_budgets,
    list_budgets,
    per_user,
    update_budget,
)
from aa_notebooks.budgets.capabilities import capabilities
from aa_notebooks.budgets.client import connect_budgets
from aa_notebooks.budgets.guard import check_on_connection, check_on_driver, run_keys
from aa_notebooks.budgets.spend import spend_plan
from aa_notebooks.budgets.window import SpendWindow
from aa_notebooks.cli import main
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import AgentExecution, BudgetAlertEvent, BudgetScope
from aa_notebooks.errors import BudgetExceededError, InvalidInputError, SchemaError
from tests.budgets.conftest import ALICE, BOB, NOW, insert_directly, record, stored_spends
from tests.notify.smtp_server import Inbox

CAROL = uuid.UUID("ca201000-0000-4000-8000-000000000005")
EVENTS = BudgetAlertEvent.__table__
EXECUTIONS_TABLE = AgentExecution.__table__
EACH_USER = {"name": "each user", "per_user": True, "threshold_usd": 5, "period_days": 1,
             "alert_type": "hard_stop"}  # fmt: skip


def history(url: str, now: datetime = NOW) -> None:
    """The module docstring's executions, before `now`."""
    record(url, "3", now - timedelta(hours=2), user_id=ALICE)
    record(url, "2", now - timedelta(hours=1), user_id=ALICE)
    record(url, "4.50", now - timedelta(minutes=30), user_id=BOB)
    record(url, "1", now - timedelta(days=2), user_id=CAROL)
    record(url, "100", now - timedelta(minutes=10))


def fired(url: str) -> list[tuple[str | None, int, Decimal]]:
    """(user, level, window spend then) of every event, oldest first."""
    query = select(EVENTS.c.user_id, EVENTS.c.level_pct, EVENTS.c.spend_usd).order_by(
        EVENTS.c.fired_at, EVENTS.c.level_pct
    )
    with get_engine(url).connect() as connection:
        return [
            (None if user is None else str(user), level, Decimal(spend))
            for user, level, spend in connection.execute(query)
        ]


def test_it_is_a_user_budget_of_no_user(db_url: str) -> None:
    budget = create_budget(db_url, **EACH_USER)
    assert (budget.scope, budget.user_id, budget.per_user) == (BudgetScope.user, None, True)
    [row] = list_budgets(db_url).to_dict("records")
    assert (row["scope"], row["user_id"], row["per_user"]) == ("user", None, True)
    assert budget.label == "each user"
    assert budget.for_user(ALICE).label == f"each user (user {ALICE})"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"scope": "global"}, "a per-user budget counts each user's own spend: its scope is user"),
        ({"scope": "agent", "target": "x"}, "its scope is user, not agent"),
        ({"user_id": ALICE}, "a per-user budget applies to every user: leave out user_id"),
    ],
)
def test_a_per_user_budget_is_of_no_one_user(
    db_url: str, fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        create_budget(db_url, **{**EACH_USER, **fields})
    with pytest.raises(InvalidInputError, match="a user budget needs user_id"):
        create_budget(db_url, threshold_usd=5, alert_type="warning", scope="user")
    assert list_budgets(db_url).empty


def test_the_spend_alerts_and_status_are_each_users_own(db_url: str, mail: Inbox) -> None:
    budget = create_budget(db_url, **EACH_USER)
    history(db_url)
    assert fired(db_url) == [
        (str(ALICE), 80, Decimal(5)), (str(ALICE), 100, Decimal(5)), (str(BOB), 80, Decimal("4.5")),
    ]  # fmt: skip
    assert [m["Subject"] for m in mail.messages] == [
        f"Budget 'each user (user {ALICE})' reached 80%: $5.00 of $5.00",
        f"Budget 'each user (user {ALICE})' exceeded its threshold: $5.00 of $5.00",
        f"Budget 'each user (user {BOB})' reached 80%: $4.50 of $5.00",
    ]
    rows = budget_status(db_url, now=NOW).to_frame().to_dict("records")
    assert [
        (r["id"], r["user_id"], r["per_user"], r["spend_usd"], r["percent_used"], r["status"],
         r["blocking"])
        for r in rows
    ] == [
        (str(budget.id), str(ALICE), True, 5.0, 100.0, "exceeded", True),
        (str(budget.id), str(BOB), True, 4.5, 90.0, "warning", False),
    ]  # fmt: skip


def test_one_users_status_and_a_user_with_nothing_spent(db_url: str) -> None:
    create_budget(db_url, **EACH_USER)
    history(db_url)
    [bob] = budget_status(db_url, user_id=BOB, now=NOW)
    assert (bob.budget.user_id, bob.spend_usd, bob.status.value) == (BOB, Decimal("4.5"), "warning")
    [carol] = connect_budgets(db_url, user_id=CAROL, now=lambda: NOW).status()
    assert (carol.budget.user_id, carol.spend_usd, carol.status.value) == (CAROL, 0, "ok")


def test_with_no_user_in_the_window_it_shows_once_as_itself(db_url: str) -> None:
    budget = create_budget(db_url, **EACH_USER)
    record(db_url, "100", NOW - timedelta(minutes=10))  # no user
    [status] = budget_status(db_url, now=NOW)
    assert (status.budget.id, status.budget.user_id, status.spend_usd) == (budget.id, None, 0)
    assert status.status.value == "ok"


@pytest.mark.parametrize("path", ["driver", "connection"])
def test_the_hard_stop_refuses_only_the_user_past_it(db_url: str, path: str) -> None:
    create_budget(db_url, **EACH_USER)
    history(db_url)
    engine = get_engine(db_url)
    check = check_on_driver if path == "driver" else check_on_connection
    caps = capabilities(engine)

    def checked(user: uuid.UUID | None) -> None:
        check(engine, caps, run_keys(user, "agent", None, None), NOW, lambda key: 0)

    with pytest.raises(BudgetExceededError) as refused:
        checked(ALICE)
    assert (refused.value.budget_name, refused.value.spend_usd) == (
        f"each user (user {ALICE})", Decimal("5.00"),
    )  # fmt: skip
    for user in (BOB, CAROL, None):  # $4.50, $0 in the window, and no user at all
        checked(user)
    with pytest.raises(BudgetExceededError):  # BOB's own backlog of $0.50 takes him to $5
        check(engine, caps, run_keys(BOB, None, None, None), NOW,
              lambda key: 500_000 if key == ("user", str(BOB)) else 0)  # fmt: skip
    with pytest.raises(BudgetExceededError):  # the public check, as agents call it
        check_budget(db_url, user_id=ALICE, agent="researcher", now=NOW)
    check_budget(db_url, user_id=BOB, now=NOW)


def test_the_tracker_refuses_the_user_past_it(db_url: str, tmp_path) -> None:
    from aa_notebooks.tracking import Tracker

    create_budget(db_url, **{**EACH_USER, "threshold_usd": Decimal("0.01")})
    tracker = Tracker(db_url, spool_dir=tmp_path / "spool")
    try:
        for _ in range(2):  # gpt-4o 1,200 + 300 tokens: $0.006 each, $0.012 for ALICE
            with tracker.execution(agent_name="a", user_id=ALICE) as run:
                run.tokens("main_agent", "gpt-4o", 1200, 300)
        tracker.flush()
        with pytest.raises(BudgetExceededError), tracker.execution(agent_name="a", user_id=ALICE):
            pytest.fail("ALICE's run must be refused")
        with tracker.execution(agent_name="a", user_id=BOB) as run:
            run.tokens("main_agent", "gpt-4o", 1200, 300)
    finally:
        tracker.close()
    [status_alice, status_bob] = budget_status(db_url)
    assert (status_alice.budget.user_id, status_alice.spend_usd) == (ALICE, Decimal("0.012"))
    assert (status_bob.budget.user_id, status_bob.spend_usd) == (BOB, Decimal("0.006"))


def test_evaluate_writes_the_highest_users_spend_and_fires_once(db_url: str) -> None:
    budget = create_budget(db_url, **{**EACH_USER, "alert_type": "warning"})
    history(db_url)
    before = fired(db_url)
    evaluation = evaluate_budgets(db_url, now=NOW)
    assert [(s.budget.user_id, s.spend_usd) for s in evaluation.statuses] == [
        (ALICE, Decimal(5)), (BOB, Decimal("4.5")),
    ]  # fmt: skip
    assert evaluation.fired == () and fired(db_url) == before
    assert evaluation.lines()[0] == (  # one budget, two statuses: not "evaluated 2 budgets"
        "evaluated 1 budget (2 statuses: a per-user budget has one per user): 1 exceeded, "
        "1 warning; spend written back"  # $5 of $5 and $4.50 (90%, past the 80% alert)
    )
    assert stored_spends(db_url) == {budget.id: 5.0}
    only_bob = evaluate_budgets(db_url, user_id=BOB, now=NOW)  # one user's view writes no max
    assert [(s.budget.user_id, s.spend_usd) for s in only_bob.statuses] == [(BOB, Decimal("4.5"))]
    assert stored_spends(db_url) == {budget.id: 5.0}


def test_a_level_fires_again_for_a_user_only_once_their_window_passed(db_url: str) -> None:
    """$5 a day per user, warning at 80%: ALICE's $4 at NOW fires; $0.50 at +3h ($4.50) does
    not; $4 at +1d+2h ($0.50 + $4: the first $4 has left the window) fires again, as her event
    of NOW has left the window too; BOB's spend never met his own 80%."""
    create_budget(db_url, **{**EACH_USER, "alert_type": "warning"})
    record(db_url, "4", NOW, user_id=ALICE)
    record(db_url, "3.9", NOW + timedelta(hours=1), user_id=BOB)
    record(db_url, "0.5", NOW + timedelta(hours=3), user_id=ALICE)
    record(db_url, "4", NOW + timedelta(days=1, hours=2), user_id=ALICE)
    assert fired(db_url) == [(str(ALICE), 80, Decimal(4)), (str(ALICE), 80, Decimal("4.5"))]


def test_events_and_daily_spend_name_the_user(db_url: str) -> None:
    create_budget(db_url, **EACH_USER)
    history(db_url)
    client = connect_budgets(db_url, now=lambda: NOW)
    events = client.alert_events("7d").frame
    assert [(str(u), k) for u, k in zip(events["user_id"], events["kind"], strict=True)] == [
        (str(BOB), "warning"), (str(ALICE), "exceeded"), (str(ALICE), "warning"),
    ]  # fmt: skip
    daily = client.spend_daily().frame
    totals = daily.groupby("name")["spend_usd"].sum().to_dict()
    assert totals == {f"each user (user {ALICE})": 5.0, f"each user (user {BOB})": 4.5}
    bob = connect_budgets(db_url, user_id=BOB, now=lambda: NOW)
    assert bob.alert_events("7d").frame["user_id"].map(str).tolist() == [str(BOB)]
    assert bob.spend_daily().frame["spend_usd"].sum() == 4.5


def test_update_to_and_from_per_user(db_url: str) -> None:
    budget = create_budget(db_url, name="alice", scope="user", user_id=ALICE, threshold_usd=5,
                           alert_type="warning")  # fmt: skip
    with pytest.raises(InvalidInputError, match="leave out user_id"):
        update_budget(db_url, budget.id, per_user=True)
    changed = update_budget(db_url, budget.id, per_user=True, user_id=None)
    assert (changed.per_user, changed.user_id) == (True, None)


def test_a_scoped_session_may_not_create_one(db_url: str) -> None:
    with pytest.raises(InvalidInputError, match="not scoped to one user"):
        connect_budgets(db_url, user_id=ALICE).create(**EACH_USER)


def test_an_agentos_database_refuses_it_in_one_line(agentos_url: str) -> None:
    with pytest.raises(SchemaError, match=r"no budgetalerts\.per_user column"):
        create_budget(agentos_url, threshold_usd=5, alert_type="warning", per_user=True)


def test_the_command_line(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--db", db_url, "budgets", "create", "--name", "each", "--per-user",
                 "--threshold-usd", "5", "--period-days", "1", "--alert-type", "hard_stop",
                 "--format", "json"])  # fmt: skip
    created = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (created["scope"], created["user_id"], created["per_user"]) == ("user", None, True)
    history(db_url, datetime.now(UTC))
    code = main(["--db", db_url, "budgets", "status", "--format", "json"])
    shown = json.loads(capsys.readouterr().out)["statuses"]
    assert code == 0
    assert [(s["budget"]["user_id"], s["status"]) for s in shown] == [
        (str(ALICE), "exceeded"), (str(BOB), "warning"),
    ]  # fmt: skip


def test_a_backtest_replays_each_user_on_their_own(db_url: str) -> None:
    """$5 a day per user, hard stop, over the last day: ALICE $3 at -5h and $3 at -4h ($6: 80%
    and 100% fire at $6), BOB $4 at -3h (80% fires at $4), ALICE $1 at -2h (refused: $6 spent),
    BOB $0.50 at -1h (runs: $4). Saved $1. One $5 budget for everyone would also have refused
    both of BOB's runs."""
    runs = [(5, "3", ALICE), (4, "3", ALICE), (3, "4", BOB), (2, "1", ALICE), (1, "0.5", BOB)]
    ids = [uuid.uuid4() for _ in runs]
    for ident, (hours, cost, user) in zip(ids, runs, strict=True):
        record(db_url, cost, NOW - timedelta(hours=hours), user_id=user, id=ident)
    budgets = connect_budgets(db_url, now=lambda: NOW)
    fields = {"threshold_usd": 5, "period_days": 1, "alert_type": "hard_stop", "days": 1}
    each = budgets.backtest(per_user=True, **fields)
    events = each.events.itertuples()
    assert [(e.user_id, e.level_pct, e.spend_usd, e.execution_id) for e in events] == [
        (str(ALICE), 80, Decimal(6), str(ids[1])), (str(ALICE), 100, Decimal(6), str(ids[1])),
        (str(BOB), 80, Decimal(4), str(ids[2])),
    ]  # fmt: skip
    assert list(zip(each.refused["id"], each.refused["user_id"], strict=True)) == [
        (str(ids[3]), str(ALICE)),
    ]
    assert each.saved_usd == Decimal(1) and each.executions == 5
    assert "each user separately" in str(each)
    together = budgets.backtest(**fields)
    assert list(together.refused["id"]) == [str(ids[2]), str(ids[3]), str(ids[4])]
    assert together.saved_usd == Decimal("5.5")
    code = main(["--db", db_url, "budgets", "backtest", "--per-user", "--threshold-usd", "5",
                 "--period-days", "1", "--alert-type", "hard_stop", "--days", "3650"])  # fmt: skip
    assert code == 0


def test_the_users_in_a_window_come_from_the_rollups_and_the_raw_rows(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A week's users: ALICE in a whole day (the rollups), BOB in the last, partial hour, CAROL
    inserted behind the rollups' back (her hour read raw; her first run is older), DAVE's only
    run deleted (his hour read raw: not listed), ERIN before the window. No raw range read is
    longer than an hour, and the list is the one read from the executions alone."""
    dave, erin = (uuid.UUID(f"da7e0000-0000-4000-8000-00000000000{n}") for n in (6, 7))
    record(db_url, "1", NOW - timedelta(days=3, hours=2), user_id=ALICE)
    record(db_url, "1", NOW - timedelta(minutes=10), user_id=BOB)
    record(db_url, "1", NOW - timedelta(days=10), user_id=CAROL)  # she is a known user
    insert_directly(db_url, "1", NOW - timedelta(days=2, hours=3), user_id=CAROL)
    record(db_url, "1", NOW - timedelta(days=4), user_id=dave)
    record(db_url, "1", NOW - timedelta(days=9), user_id=erin)
    with get_engine(db_url).begin() as connection:
        connection.execute(delete(EXECUTIONS_TABLE).where(EXECUTIONS_TABLE.c.user_id == dave))
    window = SpendWindow.ending(NOW, 7)
    raw_spans: list[tuple[datetime, datetime]] = []
    read_raw = per_user._raw_spenders

    def watched(connection: Any, spans: list[tuple[datetime, datetime]]) -> set[uuid.UUID]:
        raw_spans.extend(spans)
        return read_raw(connection, spans)

    monkeypatch.setattr(per_user, "_raw_spenders", watched)
    with get_engine(db_url).connect() as connection:
        found = per_user.spenders(connection, window, spend_plan(connection, window))
        assert found == sorted([ALICE, BOB, CAROL])
        assert raw_spans and all(end - start <= timedelta(hours=1) for start, end in raw_spans)
        assert per_user.spenders(connection, window, None) == found
