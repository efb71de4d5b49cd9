"""`cost_timeseries` by model and by agent, per day and per hour, zero-filled, and `scoped`.

The dataset gains two executions here (see `url`): N1 with neither model nor agent, and N2 by
the planner's id under a new name and without a model. In the 7d window, by UTC day:

    day  executions (key: executions, cost, total tokens)
    18   E02 gpt-4o planner 0.003 300 | E08 claude researcher 0.0063 900
    20   E07 gpt-4o planner 0.0001 10
    21   N1 (no model) (no agent) 0.0002 20
    22   E05 acme planner 0 1500
    23   E04 gpt-4o DROP 0.004 400
    24   E06 claude SCRIPT 0.000225 75
    25   E01 gpt-4o planner 0.0015 150 (12:00) | E03 claude SCRIPT 0.0009 300 (11:00)
         | N2 (no model) planner-v2 0.000007 7 (11:30)
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import create_engine, insert

from aa_notebooks.analytics import Analytics, connect
from aa_notebooks.db.schema import AgentExecution
from aa_notebooks.db.url import resolve_url
from aa_notebooks.errors import InvalidInputError
from tests.analytics import dataset
from tests.analytics.dataset import DROP, NOW, SCRIPT, U1, U2, UNPRICED

GPT, CLAUDE = "gpt-4o", "claude-3-5-sonnet"
COLUMNS = ["bucket", "{by}", "executions", "cost_usd", "total_tokens"]
Cells = dict[tuple[datetime, Any], tuple[int, float, int]]


def _extra(
    n: int, started: datetime, user: uuid.UUID, agent: tuple[Any, Any], tokens: int, cost: str
) -> dict[str, Any]:
    """An execution like E01 with another id, time, user, agent, tokens and cost, and no model."""
    agent_id, agent_name = agent
    return {
        **dataset.executions()[0],
        "id": dataset.eid(n), "request_id": uuid.uuid4(), "session_id": uuid.uuid4(),
        "user_id": user, "agent_id": agent_id, "agent_name": agent_name, "model_name": None,
        "input_tokens": tokens, "output_tokens": 0, "total_tokens": tokens,
        "cost_usd": Decimal(cost), "started_at": started.replace(tzinfo=None),
        "completed_at": None,
    }  # fmt: skip


@pytest.fixture
def url(loaded_url: str) -> str:
    """The dataset plus N1 (no model, no agent, U2) and N2 (planner's id renamed, no model, U1)."""
    engine = create_engine(resolve_url(loaded_url))
    n1 = _extra(13, NOW - timedelta(days=4, hours=3), U2, (None, None), 20, "0.000200")
    n2 = _extra(14, NOW - timedelta(minutes=30), U1, (dataset.PLANNER_ID, "planner-v2"), 7,
                "0.000007")  # fmt: skip
    try:
        with engine.begin() as connection:
            connection.execute(insert(AgentExecution.__table__), [n1, n2])
    finally:
        engine.dispose()
    return loaded_url


@pytest.fixture
def client(url: str) -> Analytics:
    """All users' analytics over the extended dataset."""
    return connect(url, now=lambda: NOW)


def day(n: int) -> datetime:
    """00:00 UTC of 2026-11-n."""
    return datetime(2026, 11, n, tzinfo=UTC)


def expected(starts: list[datetime], keys: list[Any], cells: Cells) -> list[tuple[Any, ...]]:
    """Every bucket for every key, in that order: the cells given, zeros elsewhere."""
    return [(s, k, *cells.get((s, k), (0, 0.0, 0))) for s in starts for k in keys]


def rows(frame: pd.DataFrame, by: str) -> list[tuple[Any, ...]]:
    """The frame as tuples, checking its columns; a missing key (NaN) reads as None."""
    assert list(frame.columns) == [c.format(by=by) for c in COLUMNS]
    assert str(frame["bucket"].dt.tz) == "UTC"
    return [
        (r.bucket.to_pydatetime(), None if pd.isna(r[by]) else r[by], *r.iloc[2:])
        for _, r in frame.iterrows()
    ]


DAYS = [day(n) for n in range(18, 26)]
BY_MODEL: Cells = {
    (day(18), GPT): (1, 0.003, 300),
    (day(18), CLAUDE): (1, 0.0063, 900),
    (day(20), GPT): (1, 0.0001, 10),
    (day(21), None): (1, 0.0002, 20),
    (day(22), UNPRICED): (1, 0.0, 1500),
    (day(23), GPT): (1, 0.004, 400),
    (day(24), CLAUDE): (1, 0.000225, 75),
    (day(25), GPT): (1, 0.0015, 150),
    (day(25), CLAUDE): (1, 0.0009, 300),
    (day(25), None): (1, 0.000007, 7),
}


def test_daily_cost_by_model(client: Analytics) -> None:
    result = client.cost_timeseries()
    # code point order, the key of executions without a model last; 8 days x 4 keys
    keys = [UNPRICED, CLAUDE, GPT, None]
    assert rows(result.frame, "model") == expected(DAYS, keys, BY_MODEL)
    assert len(result.frame) == 32
    assert result.title == "Cost per day by model"
    assert result.notes == (
        f"Unpriced models (their calls count as $0): {UNPRICED}",
        # 2,135 of 3,662 tokens: not UNPRICED's 1,500 nor the 27 of executions with no model
        "Cost coverage: 58.3% of tokens are priced by a known price",
    )
    # the same totals as cost_summary, the missing model included (0.0002 + 0.000007)
    totals = result.frame.groupby("model", dropna=False)["cost_usd"].sum().round(6)
    summary = client.cost_summary(by="model").frame
    assert dict(totals.items()) == dict(zip(summary["model"], summary["cost_usd"], strict=True))
    assert summary["model"].isna().sum() == 1


def test_daily_cost_by_agent(client: Analytics) -> None:
    frame = client.cost_timeseries("7d", by="agent").frame
    # the planner (by id) is named by its newest name in the window (E01's) in every bucket
    cells: Cells = {
        (day(18), "planner"): (1, 0.003, 300),
        (day(18), "researcher"): (1, 0.0063, 900),
        (day(20), "planner"): (1, 0.0001, 10),
        (day(21), None): (1, 0.0002, 20),
        (day(22), "planner"): (1, 0.0, 1500),
        (day(23), DROP): (1, 0.004, 400),
        (day(24), SCRIPT): (1, 0.000225, 75),
        (day(25), "planner"): (2, 0.001507, 157),  # E01 and N2
        (day(25), SCRIPT): (1, 0.0009, 300),
    }
    keys = [DROP, SCRIPT, "planner", "researcher", None]  # "'" < "<" < "p" < "r"
    assert rows(frame, "agent") == expected(DAYS, keys, cells)


def test_hourly_buckets(client: Analytics) -> None:
    hours = [NOW - timedelta(hours=24 - i) for i in range(25)]  # 12:00 on the 24th to now
    by_model = client.cost_timeseries("24h", bucket="hour").frame
    cells: Cells = {
        (NOW - timedelta(hours=1), CLAUDE): (1, 0.0009, 300),  # E03
        (NOW - timedelta(hours=1), None): (1, 0.000007, 7),  # N2
        (NOW, GPT): (1, 0.0015, 150),  # E01, exactly at now
    }
    assert rows(by_model, "model") == expected(hours, [CLAUDE, GPT, None], cells)
    by_agent = client.cost_timeseries("24h", bucket="hour", by="agent").frame
    cells = {
        (NOW - timedelta(hours=1), SCRIPT): (1, 0.0009, 300),
        (NOW - timedelta(hours=1), "planner"): (1, 0.000007, 7),
        (NOW, "planner"): (1, 0.0015, 150),
    }
    assert rows(by_agent, "agent") == expected(hours, [SCRIPT, "planner"], cells)


def test_dates_and_an_empty_window(client: Analytics) -> None:
    frame = client.cost_timeseries(start_date="2026-11-24", end_date="2026-11-25").frame
    # whole days: the 25th now also holds E11 (gpt-4o, a minute after now, 2.0, 2 tokens)
    cells = {k: v for k, v in BY_MODEL.items() if k[0] >= day(24)}
    cells[(day(25), GPT)] = (2, 2.0015, 152)
    assert rows(frame, "model") == expected([day(24), day(25)], [CLAUDE, GPT, None], cells)
    empty = client.cost_timeseries(start_date="2026-01-01", end_date="2026-01-02", by="agent")
    assert rows(empty.frame, "agent") == []
    assert empty.notes == ()


def test_user_scope(client: Analytics, url: str) -> None:
    mine = connect(url, user_id=U1, now=lambda: NOW).cost_timeseries()
    scoped = client.scoped(str(U1))
    assert scoped.scope == mine.scope == f"user {U1}"
    assert scoped.now() == NOW
    # U1: E01 E02 E05 E06 E08 N2
    cells = {k: v for k, v in BY_MODEL.items() if k not in {(day(20), GPT), (day(21), None),
             (day(23), GPT), (day(25), CLAUDE)}}  # fmt: skip
    keys = [UNPRICED, CLAUDE, GPT, None]
    assert rows(mine.frame, "model") == expected(DAYS, keys, cells)
    assert rows(scoped.cost_timeseries().frame, "model") == rows(mine.frame, "model")
    theirs = client.scoped(U2).cost_timeseries(by="agent").frame  # E03 E04 E07 N1
    cells = {
        (day(20), "planner"): (1, 0.0001, 10),
        (day(21), None): (1, 0.0002, 20),
        (day(23), DROP): (1, 0.004, 400),
        (day(25), SCRIPT): (1, 0.0009, 300),
    }
    assert rows(theirs, "agent") == expected(DAYS, [DROP, SCRIPT, "planner", None], cells)
    everyone = scoped.scoped(None)
    assert everyone.scope == "all users"
    assert len(everyone.cost_timeseries().frame) == 32


def test_errors(client: Analytics) -> None:
    with pytest.raises(InvalidInputError, match=r"bucket must be one of hour, day; got 'week'"):
        client.cost_timeseries(bucket="week")
    with pytest.raises(InvalidInputError, match=r"by must be one of model, agent; got 'user'"):
        client.cost_timeseries(by="user")
    with pytest.raises(InvalidInputError, match="user_id must be a UUID"):
        client.scoped("alice")
    with pytest.raises(InvalidInputError, match="at most 5,000"):
        client.cost_timeseries("365d", bucket="hour")
