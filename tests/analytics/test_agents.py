"""`agent_stats` and `top_agents`: agents are their agent_id where set, else their name."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from aa_notebooks.analytics import Analytics
from aa_notebooks.errors import InvalidInputError, NotFoundError
from tests.analytics.dataset import DROP, PLANNER_ID, RESEARCHER_ID, SCRIPT, UNPRICED


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
