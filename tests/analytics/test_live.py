"""LiveView: a window's sums plus the executions completed since the mark, each counted once.

NOW is 2026-03-10 12:30 UTC; the 24h window is [2026-03-09 12:30, NOW], hourly buckets.

    row  started  completed     user status   agent model time_ms tokens(in/out) cost
    B0   NOW-2d   NOW-2d+1s     U1   success  a     m1     9000   0/0         0.90  outside
    B1   10:10    10:10:01      U1   success  a     m1     1000   10/5        0.10
    B2   12:05    12:05:02      U1   success  b     m1     2000   20/10       0.20
    B3   12:10    12:10:01      U2   failure  a     m2      500   0/0         0.05
  tick 1 (recorded after the view opened):
    N1   12:20    NOW+1s        U1   success  c     m1     3000   30/15       0.30
    N2   12:25    NOW+2s        U1   timeout  a     m2     4000   0/0         0.00
  tick 3 (committed late: completed before tick 1's newest, within the overlap):
    L1   12:15    NOW+0.5s      U2   success  b     m1      100   1/1         0.01
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import insert

from aa_notebooks.analytics import connect
from aa_notebooks.analytics.live import LiveView
from aa_notebooks.analytics.source import Source
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import AgentExecution, User
from aa_notebooks.db.url import resolve_url

NOW = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)
U1 = uuid.UUID("11111111-1111-4111-8111-111111111111")
U2 = uuid.UUID("22222222-2222-4222-8222-222222222222")
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _at(hour: int, minute: int) -> datetime:
    return datetime(2026, 3, 10, hour, minute, tzinfo=UTC)


def _add(url: str, name: str, started: datetime, completed: datetime, user: uuid.UUID,
         status: str, agent: str, model: str, ms: int, tokens: tuple[int, int],
         cost: str) -> uuid.UUID:  # fmt: skip
    row_id = uuid.uuid5(uuid.NAMESPACE_URL, name)
    values = {
        "id": row_id, "user_id": user, "request_id": uuid.uuid4(), "session_id": uuid.uuid4(),
        "agent_name": agent, "model_name": model, "status": status,
        "input_tokens": tokens[0], "output_tokens": tokens[1], "total_tokens": sum(tokens),
        "cost_usd": Decimal(cost), "execution_time_ms": ms, "query_preview": name,
        "started_at": started.replace(tzinfo=None), "completed_at": completed.replace(tzinfo=None),
    }  # fmt: skip
    with get_engine(resolve_url(url)).begin() as connection:
        connection.execute(insert(AgentExecution), [values])
    return row_id


def _base(url: str) -> None:
    with get_engine(resolve_url(url)).begin() as connection:
        connection.execute(insert(User), [{"id": U1}, {"id": U2}])
    second = timedelta(seconds=1)
    _add(url, "B0", NOW - timedelta(days=2), NOW - timedelta(days=2) + second, U1, "success",
         "a", "m1", 9000, (0, 0), "0.90")  # fmt: skip
    _add(url, "B1", _at(10, 10), _at(10, 10) + second, U1, "success", "a", "m1", 1000, (10, 5),
         "0.10")  # fmt: skip
    _add(url, "B2", _at(12, 5), _at(12, 5) + 2 * second, U1, "success", "b", "m1", 2000,
         (20, 10), "0.20")  # fmt: skip
    _add(url, "B3", _at(12, 10), _at(12, 10) + second, U2, "failure", "a", "m2", 500, (0, 0),
         "0.05")  # fmt: skip


def _tick_one(url: str) -> list[uuid.UUID]:
    return [
        _add(url, "N1", _at(12, 20), NOW + timedelta(seconds=1), U1, "success", "c", "m1", 3000,
             (30, 15), "0.30"),
        _add(url, "N2", _at(12, 25), NOW + timedelta(seconds=2), U1, "timeout", "a", "m2", 4000,
             (0, 0), "0"),
    ]  # fmt: skip


def _late(url: str) -> uuid.UUID:
    return _add(url, "L1", _at(12, 15), NOW + timedelta(milliseconds=500), U2, "success", "b",
                "m1", 100, (1, 1), "0.01")  # fmt: skip


def _view(url: str, user: uuid.UUID | None = None, period: str = "24h") -> LiveView:
    analytics = connect(url, user_id=None if user is None else str(user), now=lambda: NOW)
    window = analytics.window(period) if period else analytics.window(None, "2026-03-10",
                                                                     "2026-03-10")  # fmt: skip
    source = Source.open(resolve_url(url), user)
    return LiveView.open(source, window, "hour", NOW)


def test_ticks_add_new_executions_once_with_hand_counted_totals(db_url: str) -> None:
    _base(db_url)
    view = _view(db_url)
    before = view.overview()
    assert before.total_executions == 3
    assert before.total_cost_usd == Decimal("0.350000")
    new = _tick_one(db_url)
    tick = view.tick()
    assert tick.ids == [str(new[1]), str(new[0])]  # newest first
    assert tick.buckets == [NOON]
    now = view.overview()
    assert now.total_executions == 5
    assert now.executions_by_status == {"success": 3, "failure": 1, "timeout": 1}
    assert now.success_rate == 60.0
    assert now.avg_response_time_ms == 2100.0  # (1000 + 2000 + 500 + 3000 + 4000) / 5
    assert (now.input_tokens, now.output_tokens, now.total_tokens) == (60, 30, 90)
    assert now.total_cost_usd == Decimal("0.650000")
    assert now.active_agents == 3  # a, b, c
    for value, exact in ((now.p50_ms, 2000.0), (now.p95_ms, 3800.0), (now.p99_ms, 3960.0)):
        assert value is not None and abs(value - exact) <= 0.01 * exact
    assert view.tick().rows == []  # nothing new: nothing counted twice
    late = _late(db_url)
    tick = view.tick()
    assert tick.ids == [str(late)]
    assert view.tick().rows == []
    assert view.overview().total_executions == 6
    assert view.overview().total_cost_usd == Decimal("0.660000")
    assert view.added == 3


def test_last_bucket_of_both_charts(db_url: str) -> None:
    _base(db_url)
    analytics = connect(db_url, now=lambda: NOW)
    activity = analytics.timeseries("24h", bucket="hour").frame
    costs = analytics.cost_timeseries("24h", bucket="hour", by="model").frame
    view = _view(db_url)
    _tick_one(db_url)
    tick = view.tick()
    frame = view.activity(activity, tick.buckets)
    assert len(frame) == len(activity)
    last = frame.iloc[-1]
    assert last["bucket"] == pd.Timestamp(NOON)
    assert last["executions"] == 4  # B2, B3, N1, N2
    assert last["success_rate"] == 50.0
    assert last["avg_response_time_ms"] == 2375.0  # (2000 + 500 + 3000 + 4000) / 4
    assert Decimal(str(last["cost_usd"])) == Decimal("0.55")
    assert abs(last["p95_ms"] - 3850.0) <= 0.01 * 3850.0  # 3000 + 0.85 * 1000
    earlier = frame[frame["bucket"] == pd.Timestamp(_at(10, 0))].iloc[0]
    assert earlier["executions"] == 1
    series = view.costs_over_time(costs, tick)
    noon = series[series["bucket"] == pd.Timestamp(NOON)].set_index("model")
    assert noon.loc["m1", "executions"] == 2  # B2, N1
    assert Decimal(str(noon.loc["m1", "cost_usd"])) == Decimal("0.50")
    assert noon.loc["m1", "total_tokens"] == 75
    assert noon.loc["m2", "executions"] == 2  # B3, N2
    assert Decimal(str(noon.loc["m2", "cost_usd"])) == Decimal("0.05")


def test_scope_and_window_start_limit_what_is_added(db_url: str) -> None:
    _base(db_url)
    view = _view(db_url, user=U1)
    assert view.overview().total_executions == 2  # B1, B2
    _tick_one(db_url)
    _late(db_url)  # U2's: not in U1's view
    _add(db_url, "old", NOW - timedelta(days=3), NOW + timedelta(seconds=3), U1, "success", "a",
         "m1", 10, (0, 0), "0")  # started before the window: not added  # fmt: skip
    assert len(view.tick().rows) == 2
    assert view.overview().total_executions == 4


def test_fixed_dates_add_nothing_started_after_their_end(db_url: str) -> None:
    _base(db_url)
    view = _view(db_url, period="")  # 2026-03-10 only
    assert view.overview().total_executions == 3
    next_day = datetime(2026, 3, 11, 0, 5, tzinfo=UTC)
    _add(db_url, "next", next_day, NOW + timedelta(seconds=1), U1, "success", "a", "m1", 10,
         (0, 0), "0")  # fmt: skip
    inside = _add(db_url, "in", _at(12, 29), NOW + timedelta(seconds=1), U1, "success", "a", "m1",
                  10, (0, 0), "0")  # fmt: skip
    assert view.tick().ids == [str(inside)]
    assert view.overview().total_executions == 4


@pytest.mark.parametrize("ms", [0, 1, 999, 1000, 123456])
def test_sql_sketch_keys_match_python(db_url: str, ms: int) -> None:
    with get_engine(resolve_url(db_url)).begin() as connection:
        connection.execute(insert(User), [{"id": U1}])
    _add(db_url, "one", _at(12, 0), _at(12, 1), U1, "success", "a", "m1", ms, (0, 0), "0")
    view = _view(db_url)
    from aa_notebooks.db.rollups.sketch import key_of

    assert view.sketch.counts == {key_of(ms): 1}
