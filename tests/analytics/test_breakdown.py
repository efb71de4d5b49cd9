"""`breakdown` (one pass) equals the three functions it stands for; `active_users` lists who ran
something in a window, from the dataset's table (tests/analytics/dataset.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from aa_notebooks.analytics import Analytics, connect
from aa_notebooks.errors import InvalidInputError
from tests.analytics import dataset
from tests.analytics.test_cost_timeseries import client, url

__all__ = ["client", "url"]  # fixtures: the dataset plus N1 and N2


@pytest.mark.parametrize("period", ["24h", "7d", "30d", "90d"])
def test_breakdown_is_the_overview_top_agents_and_cost_by_model(
    analytics: Analytics, period: str
) -> None:
    summary = analytics.breakdown(period, limit=3)
    assert summary.overview == analytics.overview(period)
    pd.testing.assert_frame_equal(
        summary.top_agents.frame, analytics.top_agents(period, limit=3).frame
    )
    pd.testing.assert_frame_equal(
        summary.cost_by_model.frame, analytics.cost_summary(period, by="model").frame
    )
    assert summary.cost_by_model.notes == analytics.cost_summary(period, by="model").notes


def test_breakdown_of_the_7d_window(analytics: Analytics) -> None:
    summary = analytics.breakdown("7d", limit=2)
    assert summary.overview.total_executions == 8
    # planner: E01, E02, E05, E07 = 4; then SCRIPT (E03, E06) = 2 before DROP and researcher.
    assert list(summary.top_agents.frame["agent"]) == ["planner", dataset.SCRIPT]
    assert list(summary.cost_by_model.frame["model"]) == [
        "gpt-4o", "claude-3-5-sonnet", dataset.UNPRICED
    ]  # fmt: skip


def test_breakdown_checks_its_limit(analytics: Analytics) -> None:
    with pytest.raises(InvalidInputError, match="limit must be a whole number 1-1000"):
        analytics.breakdown("7d", limit=0)


def test_active_users(analytics: Analytics, loaded_url: str) -> None:
    u1, u2 = str(dataset.U1), str(dataset.U2)
    assert analytics.active_users("7d") == tuple(sorted((u1, u2)))
    # 2026-11-18 holds E08 and E09, both U1's.
    assert analytics.active_users(start_date="2026-11-18", end_date="2026-11-18") == (u1,)
    assert analytics.active_users(start_date="2025-01-01", end_date="2025-01-31") == ()
    scoped = connect(loaded_url, user_id=u2, now=lambda: dataset.NOW)
    assert scoped.active_users("7d") == (u2,)
    assert scoped.active_users(start_date="2026-11-18", end_date="2026-11-18") == ()


def test_unattributed_and_renamed_agents(client: Analytics) -> None:
    """With N1 (no agent) and N2 (the planner's id under the name planner-v2): see
    tests/analytics/test_cost_timeseries.py for the extended dataset."""
    summary = client.breakdown("7d")
    top = summary.top_agents.frame
    # The planner's id now has 5 executions (E01, E02, E05, E07, N2), labelled by its newest
    # name (E01's, at now: N2 is half an hour older); N1 belongs to no agent and is left out of
    # the top agents but not of the totals.
    assert list(top["agent"]) == ["planner", dataset.SCRIPT, dataset.DROP, "researcher"]
    assert list(top["executions"]) == [5, 2, 1, 1]
    assert summary.overview.total_executions == 10 and summary.overview.active_agents == 4
    by_agent = client.cost_summary("7d", by="agent").frame
    unattributed = by_agent[by_agent["agent_id"].isna() & by_agent["agent_name"].isna()]
    assert len(unattributed) == 1 and unattributed["agent"].isna().all()
    assert "None" not in by_agent["agent"].tolist()  # missing, not the text "None"
    assert unattributed["cost_usd"].tolist() == [0.0002]
    models = summary.cost_by_model.frame
    # gpt-4o .0086, claude .007425, no model (N1 .0002 + N2 .000007), acme 0.
    assert models["model"].fillna("(none)").tolist() == [
        "gpt-4o", "claude-3-5-sonnet", "(none)", dataset.UNPRICED
    ]  # fmt: skip
    pd.testing.assert_frame_equal(models, client.cost_summary("7d", by="model").frame)
