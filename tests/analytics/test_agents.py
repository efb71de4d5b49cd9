"""`agent_stats` and `top_agents`: agents are their agent_id where set, else their name."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from aa_notebooks.analytics import Analytics, connect, rollup_buckets, rollup_source
from aa_notebooks.analytics.adhoc_sql import run_sql
from aa_notebooks.analytics.filters import EXECUTIONS
from aa_notebooks.analytics.running import running
from aa_notebooks.analytics.users import active_users
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import UsageRollupDay, table_of
from aa_notebooks.errors import InvalidInputError, NotFoundError
from tests.analytics.dataset import DROP, PLANNER_ID, RESEARCHER_ID, SCRIPT, UNPRICED
from tests.analytics.test_rollup_source import WINDOWS, _write_hand_data

HAND_NOW = datetime(2024, 6, 2, 5, 20, tzinfo=UTC)


@pytest.mark.parametrize("agent", ["planner", str(PLANNER_ID), PLANNER_ID])
def test_agent_stats_by_name_or_id(analytics: Analytics, agent: object) -> None:
    stats = analytics.agent_stats(agent)  # type: ignore[arg-type]
    # planner in the window: E01 E02 E05 (success), E07 (failure)
    assert stats.total_executions == 4
    assert stats.success_rate == 75.0
    assert stats.avg_response_time_ms == 1562.5  # (1000 + 2000 + 3000 + 250) / 4
    assert stats.p95_ms == 2850.0  # sorted 250 1000 2000 3000; 2.85 -> 2000 + 0.85 x 1000
    assert (stats.input_tokens, stats.output_tokens, stats.total_tokens) == (1310, 650, 1960)
    assert stats.total_cost_usd == Decimal("0.004600")
    assert stats.models_used == (UNPRICED, "gpt-4o")
    assert stats.agent_name == "planner"
    assert stats.agent_id == (None if agent == "planner" else PLANNER_ID)


def test_agent_stats_daily_series(analytics: Analytics) -> None:
    daily = analytics.agent_stats("planner").daily
    assert list(daily["bucket"]) == list(pd.date_range("2026-11-18", periods=8, freq="D", tz="UTC"))
    # E02 on the 18th, E07 the 20th, E05 the 22nd, E01 the 25th
    assert list(daily["executions"]) == [1, 0, 1, 0, 1, 0, 0, 1]
    assert list(daily["cost_usd"]) == [0.003, 0.0, 0.0001, 0.0, 0.0, 0.0, 0.0, 0.0015]


def test_agent_stats_of_a_name_only_agent_with_html(analytics: Analytics) -> None:
    stats = analytics.agent_stats(SCRIPT)  # E03 (failure, 500 ms) and E06 (success, 700 ms)
    assert (stats.total_executions, stats.success_rate) == (2, 50.0)
    assert stats.p95_ms == 690.0  # 500 + 0.95 x 200
    assert stats.total_cost_usd == Decimal("0.001125")
    assert stats.agent_id is None and stats.agent_name == SCRIPT


def test_agent_without_executions_in_the_window_gives_zeros(analytics: Analytics) -> None:
    stats = analytics.agent_stats(RESEARCHER_ID, "24h")  # E08 is 6d 23h old
    assert stats.total_executions == 0
    assert (stats.success_rate, stats.avg_response_time_ms, stats.p95_ms) == (None, None, None)
    assert stats.total_cost_usd == Decimal(0)
    assert stats.models_used == ()
    assert list(stats.daily["executions"]) == [0, 0]


def test_unknown_agent_is_not_found(analytics: Analytics, analytics_u1: Analytics) -> None:
    with pytest.raises(NotFoundError, match="no executions of agent 'nobody'"):
        analytics.agent_stats("nobody")
    with pytest.raises(NotFoundError, match="for user"):
        analytics_u1.agent_stats(DROP)  # only U2 ran it
    with pytest.raises(InvalidInputError, match="agent must be"):
        analytics.agent_stats("  ")


def test_top_agents(analytics: Analytics) -> None:
    top = analytics.top_agents().frame
    assert list(top["agent"]) == ["planner", SCRIPT, DROP, "researcher"]  # ties by name
    assert list(top["agent_id"].isna()) == [False, True, True, False]
    assert top["agent_id"].iloc[0] == str(PLANNER_ID)
    assert list(top["executions"]) == [4, 2, 1, 1]
    assert list(top["success_rate"]) == [75.0, 50.0, 0.0, 100.0]
    assert list(top["avg_response_time_ms"]) == [1562.5, 600.0, 120000.0, 4000.0]
    assert list(top["cost_usd"]) == [0.0046, 0.001125, 0.004, 0.0063]


def test_top_agents_limit_scope_and_errors(analytics: Analytics, analytics_u1: Analytics) -> None:
    assert list(analytics.top_agents(limit=2).frame["agent"]) == ["planner", SCRIPT]
    # U1: planner E01 E02 E05; SCRIPT E06; researcher E08
    assert list(analytics_u1.top_agents().frame["agent"]) == ["planner", SCRIPT, "researcher"]
    assert analytics.top_agents(start_date="2026-01-01", end_date="2026-01-01").frame.empty
    for limit in (0, 1001, True):
        with pytest.raises(InvalidInputError, match="limit must be"):
            analytics.top_agents(limit=limit)


def _figures(stats: object) -> dict:
    """An agent's figures without where they came from (the daily series compared apart)."""
    found = asdict(stats)  # type: ignore[call-overload]
    for name in ("source", "percentile_bound", "daily", "window"):
        del found[name]
    return found


def test_agent_stats_through_the_rollups_by_hand(db_url: str) -> None:
    """The writer on June 1-2: 23:59:59 (50 ms), 00:00 (70 ms) and 04:50 (7 ms, $0.25), read
    from the daily and hourly rollups and the raw minutes after 05:00."""
    _write_hand_data(db_url)
    stats = connect(db_url, now=lambda: HAND_NOW).agent_stats(
        "writer", start_date="2024-06-01", end_date="2024-06-02"
    )
    assert (stats.source, stats.percentile_bound) == ("rollup", 0.0)
    assert (stats.total_executions, stats.success_rate) == (3, 100.0)
    assert stats.avg_response_time_ms == pytest.approx(127 / 3)
    assert stats.p95_ms == 68.0  # sorted 7 50 70: 1.9 -> 50 + 0.9 x 20
    assert (stats.input_tokens, stats.output_tokens, stats.total_tokens) == (111, 57, 168)
    assert stats.total_cost_usd == Decimal("0.260003")
    assert (stats.models_used, stats.agent_name, stats.agent_id) == (("claude",), "writer", None)
    assert list(stats.daily["executions"]) == [1, 2]


@pytest.mark.parametrize("agent", ["writer", "researcher"])
@pytest.mark.parametrize("window", WINDOWS)
def test_agent_stats_through_the_rollups_are_the_raw_ones(
    db_url: str, window: dict, agent: str
) -> None:
    _write_hand_data(db_url)
    client = connect(db_url, now=lambda: HAND_NOW)
    fast, audit = (
        client.agent_stats(agent, **window),
        client.agent_stats(agent, **window, exact=True),
    )
    assert (fast.source, audit.source) == ("rollup", "raw")
    assert _figures(fast) == _figures(audit)
    assert_frame_equal(fast.daily, audit.daily)


def test_agent_stats_p95_from_the_sketches_is_within_its_bound(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above the exact bound (0 here) P95 and the daily P95 come from the agent's sketches."""
    _write_hand_data(db_url)
    monkeypatch.setattr(rollup_source, "EXACT_PERCENTILES_UP_TO", 0)
    monkeypatch.setattr(rollup_buckets, "EXACT_BUCKET_PERCENTILES_UP_TO", 0)
    client = connect(db_url, now=lambda: HAND_NOW)
    window = {"start_date": "2024-06-01", "end_date": "2024-06-02"}
    fast, audit = (
        client.agent_stats("researcher", **window),
        client.agent_stats("researcher", **window, exact=True),
    )
    assert fast.percentile_bound == 0.01 and "within 1% of exact" in str(fast)
    assert audit.p95_ms == 280.0  # sorted 100 100 300: 1.9 -> 100 + 0.9 x 200
    assert fast.p95_ms is not None and abs(fast.p95_ms - 280.0) <= 0.01 * 280.0
    assert {**_figures(fast), "p95_ms": None} == {**_figures(audit), "p95_ms": None}


def test_a_narrowed_read_refuses_a_table_without_the_column(analytics: Analytics) -> None:
    """A source kept to one agent reads the executions by that agent; a table that has no agent
    (the usage rollup) and the reads kept only to a user (ad hoc SQL, runs in flight, users)
    are refused instead of read for every agent."""
    one = analytics._source.narrowed("agent_name", "planner")
    (condition,) = one.scope_on(EXECUTIONS)
    assert str(condition) == "agentexecutions.agent_name = :agent_name_1"
    with pytest.raises(ValueError, match="rollup_usage_day has no agent_name column"):
        one.scope_on(table_of(UsageRollupDay))
    with pytest.raises(ValueError, match=r"ad hoc SQL cannot be narrowed \(by agent_name\)"):
        run_sql(one, "SELECT COUNT(*) FROM agentexecutions")
    with pytest.raises(ValueError, match="runs in flight cannot be narrowed"):
        running(one, datetime.now(UTC))
    with pytest.raises(ValueError, match="the user list cannot be narrowed"):
        active_users(one, analytics.window("7d"))


def test_a_deleted_run_leaves_the_agents_rollup_figures(db_url: str) -> None:
    _write_hand_data(db_url)
    with get_engine(db_url).begin() as connection:
        connection.execute(EXECUTIONS.delete().where(EXECUTIONS.c.execution_time_ms == 7))
    client = connect(db_url, now=lambda: HAND_NOW)
    fast = client.agent_stats("writer", period="3d")
    assert fast.total_executions == 2
    assert _figures(fast) == _figures(client.agent_stats("writer", period="3d", exact=True))
