"""Budget backtests on a hand-made history, with every answer worked out by hand below.

The agent "planner" ran nine times around the start S of a 10-day backtest (S = now - 10 days);
"writer" once, for $5.00, which no planner budget may count. Times are hours from S:

    run  hours  cost   | $1.00 / 1 day hard stop: window spend before the run -> verdict
    P0   -16.5  0.60   | before S: fills the first window, judged by nothing
    P1    +0.5  0.30   | 0.60 -> runs (0.90)
    P2    +1.5  0.20   | 0.90 -> runs (1.10)
    P3    +2.5  0.50   | 1.10 -> refused
    P4    +8.5  0.40   | P0 left the window: 0.50 -> runs (0.90)
    P5   +25.0  0.25   | P1 left: 0.20 + 0.40 = 0.60 -> runs (0.85)
    P6   +26.0  0.50   | P2 left: 0.40 + 0.25 = 0.65 -> runs (1.15)
    P7   +27.5  0.10   | 0.40 + 0.25 + 0.50 = 1.15 -> refused
    P8   +33.5  0.30   | P4 left: 0.25 + 0.50 = 0.75 -> runs (1.05)

So the hard stop refuses P3 and P7 and saves $0.60. Each alert level (80% = $0.80, 100% =
$1.00) fires when a run leaves the spend at or past it and the level has not fired within the
window: 80% at P1 (0.90), 100% at P2 (1.10); at P4 (0.90) 80% fired at S+0.5h, inside the window
S-15.5h..S+8.5h; at P5 (0.85) it has left the window (from S+1h): 80% fires again; at P6 (1.15)
100% (fired at S+1.5h, window from S+2h) fires again; at P8 (1.05) both fired within the window.

As a warning budget (nothing refused) at 80% and 100% of $1.00 over 1 day, the window spend
after each run is 0.90, 1.10, 1.60, 1.40, 1.35, 1.65, 1.25, 1.15: 80% fires at P1 (crossing
0.80 with 0.90), 100% at P2 (1.10); P3 and P4 cross nothing and both fired within the window;
at P5 the 80% event of P1 (S+0.5h) has left the window (S+1h..S+25h) with the spend still above
it, so 80% fires again (1.35); at P6 the same holds for 100% (fired at S+1.5h, window from
S+2h): it fires again (1.65); P7 and P8 fire nothing (both levels fired within their window,
though at P8 the spend came back over $1.00 from 0.85: a level fires once per window).

Levels 50/80/100 of $3.00 over 10 days (nothing leaves the window): the spend runs 0.90, 1.10,
1.60, 2.00, 2.25, 2.75, 2.85, 3.15, crossing $1.50 at P3, $2.40 at P6 and $3.00 at P8, once each.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from aa_notebooks.budgets.client import connect_budgets
from aa_notebooks.errors import InvalidInputError
from tests.budgets.conftest import insert_directly

NOW = datetime(2024, 6, 1, 12, 30, tzinfo=UTC)
PLANNER = [(-16.5, "0.60"), (0.5, "0.30"), (1.5, "0.20"), (2.5, "0.50"), (8.5, "0.40"),
           (25.0, "0.25"), (26.0, "0.50"), (27.5, "0.10"), (33.5, "0.30")]  # fmt: skip


def load(url: str, now: datetime) -> list[uuid.UUID]:
    """The history above for a backtest of 10 days ending at `now`; the planner runs' ids."""
    start = now - timedelta(days=10)
    ids = []
    for hours, cost in PLANNER:
        row = insert_directly(url, cost, start + timedelta(hours=hours), agent_name="planner")
        ids.append(row["id"])
    insert_directly(url, "5.00", start + timedelta(hours=1), agent_name="writer")
    return ids


@pytest.fixture
def history(db_url: str) -> tuple[str, list[uuid.UUID]]:
    return db_url, load(db_url, NOW)


def _planner(**fields: object) -> dict[str, object]:
    return {"scope": "agent", "target": "planner", "days": 10, **fields}


def test_a_hard_stop_refuses_the_runs_worked_out_by_hand(history) -> None:  # type: ignore[no-untyped-def]
    url, ids = history
    budgets = connect_budgets(url, now=lambda: NOW)
    result = budgets.backtest(
        **_planner(threshold_usd="1.00", period_days=1, alert_type="hard_stop")
    )
    assert result.executions == 8  # P0 is before the backtest
    assert list(result.refused["id"]) == [str(ids[3]), str(ids[7])]
    assert list(result.refused["cost_usd"]) == [Decimal("0.50"), Decimal("0.10")]
    assert result.saved_usd == Decimal("0.60")
    daily = result.daily.set_index("day")
    may22, may23 = pd.Timestamp("2024-05-22"), pd.Timestamp("2024-05-23")
    assert daily.loc[may22, "spend_usd"] == pytest.approx(1.40)  # P1-P4
    assert daily.loc[may22, "spend_with_budget_usd"] == pytest.approx(0.90)  # without P3
    assert daily.loc[may23, "spend_usd"] == pytest.approx(1.15)  # P5-P8
    assert daily.loc[may23, "spend_with_budget_usd"] == pytest.approx(1.05)  # without P7
    assert list(daily.index) == list(pd.date_range("2024-05-22", "2024-06-01"))
    summary = result.to_frame().iloc[0]
    assert (summary["refused"], summary["saved_usd"], summary["alerts"]) == (2, 0.60, 4)
    fired = [(row.level_pct, row.execution_id) for row in result.events.itertuples()]
    assert fired == [(80, str(ids[1])), (100, str(ids[2])), (80, str(ids[5])), (100, str(ids[6]))]
    assert "refused: 2 executions, saving $0.60" in str(result)
    assert result.chart().to_dict()["layer"]  # three layers: spend lines, threshold, alerts


def test_a_warning_fires_once_per_window(history) -> None:  # type: ignore[no-untyped-def]
    url, ids = history
    budgets = connect_budgets(url, now=lambda: NOW)
    result = budgets.backtest(**_planner(threshold_usd=1, period_days=1))
    assert result.refused.empty and result.saved_usd == 0
    fired = [(row.level_pct, row.execution_id, row.spend_usd) for row in result.events.itertuples()]
    assert fired == [
        (80, str(ids[1]), Decimal("0.90")),
        (100, str(ids[2]), Decimal("1.10")),
        (80, str(ids[5]), Decimal("1.35")),
        (100, str(ids[6]), Decimal("1.65")),
    ]
    start = NOW - timedelta(days=10)
    assert list(result.events["fired_at"]) == [
        start + timedelta(hours=h) for h in (0.5, 1.5, 25.0, 26.0)
    ]


def test_several_levels_fire_once_each(history) -> None:  # type: ignore[no-untyped-def]
    url, ids = history
    budgets = connect_budgets(url, now=lambda: NOW)
    result = budgets.backtest(**_planner(threshold_usd=3, period_days=10, levels=[80, 50]))
    fired = [(row.level_pct, row.execution_id, row.spend_usd) for row in result.events.itertuples()]
    assert fired == [
        (50, str(ids[3]), Decimal("1.60")),
        (80, str(ids[6]), Decimal("2.75")),
        (100, str(ids[8]), Decimal("3.15")),
    ]
    assert result.levels == (50, 80, 100)


def test_levels_come_beside_the_alert_percentage_as_create_takes_them(history) -> None:  # type: ignore[no-untyped-def]
    """`levels=[50]` replays 50, the default alert_at_percentage 80 and 100, as a budget
    created with them fires: the 80 was left out."""
    url, _ = history
    budgets = connect_budgets(url, now=lambda: NOW)
    result = budgets.backtest(**_planner(threshold_usd=3, period_days=10, levels=[50]))
    assert result.levels == (50, 80, 100)
    assert list(result.events["level_pct"]) == [50, 80, 100]


def test_the_scope_decides_what_counts(history) -> None:  # type: ignore[no-untyped-def]
    url, _ = history
    budgets = connect_budgets(url, now=lambda: NOW)
    everyone = budgets.backtest(threshold_usd=100, period_days=30, days=10)
    assert everyone.executions == 9  # the eight planner runs and the writer's
    assert everyone.daily["spend_usd"].sum() == pytest.approx(2.55 + 5.00)
    nobody = budgets.backtest(**_planner(threshold_usd=1, target="nobody"))
    assert nobody.executions == 0 and nobody.events.empty and nobody.refused.empty
    assert nobody.notes == ("no executions of this scope in the period",)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"threshold_usd": -1}, "threshold_usd"),
        ({"threshold_usd": 1, "days": 0}, "days must be a whole number from 1 to 3660, got 0"),
        ({"threshold_usd": 1, "levels": [0]}, "alert levels must be whole percentages"),
        ({"threshold_usd": 1, "scope": "team"}, "scope"),
        ({"threshold_usd": 1, "period_days": 0}, "period_days"),
    ],
)
def test_bad_input_is_one_clear_error(db_url: str, fields: dict, message: str) -> None:
    budgets = connect_budgets(db_url, now=lambda: NOW)
    with pytest.raises(InvalidInputError, match=message):
        budgets.backtest(**fields)
