"""A renamed agent is labelled with its newest name up to the window's end, not its greatest.

The dataset's planner (by id) gains two executions on the 24th: R1 at 10:00 under the name
"assistant", R2 at 11:00 with no name. From the 18th to the 24th (whole days), the planner's
executions are E09 and E02 (18th), E07 (20th), E05 (22nd), R1 and R2: its newest name is
"assistant", though "planner" is the greatest. In the 7 days to now, E01 (now, "planner") is
newer.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert

from aa_notebooks.analytics import Analytics, connect
from aa_notebooks.analytics import anomalies as anomalies_module
from aa_notebooks.analytics.periods import Window
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.rollups.rebuild import rebuild_rollups
from aa_notebooks.db.schema import AgentExecution
from tests.analytics import dataset
from tests.analytics.dataset import NOW, PLANNER_ID, U1

RANGE = {"start_date": "2026-11-18", "end_date": "2026-11-24"}


def _renamed(n: int, started: datetime, name: str | None) -> dict[str, Any]:
    return {
        **dataset.executions()[0],
        "id": dataset.eid(n), "request_id": uuid.uuid4(), "session_id": uuid.uuid4(),
        "user_id": U1, "agent_id": PLANNER_ID, "agent_name": name, "model_name": "gpt-4o",
        "input_tokens": 10, "output_tokens": 0, "total_tokens": 10,
        "cost_usd": Decimal("0.000100"), "started_at": started, "completed_at": None,
    }  # fmt: skip


@pytest.fixture
def client(loaded_url: str) -> Analytics:
    engine = get_engine(loaded_url)
    with engine.begin() as connection:
        connection.execute(insert(AgentExecution.__table__), [
            _renamed(21, datetime(2026, 11, 24, 10), "assistant"),
            _renamed(22, datetime(2026, 11, 24, 11), None),
        ])  # fmt: skip
    rebuild_rollups(engine)
    return connect(loaded_url, now=lambda: NOW)


@pytest.mark.parametrize("exact", [False, True])
def test_the_newest_name_labels_a_renamed_agent(client: Analytics, exact: bool) -> None:
    breakdown = client.breakdown(**RANGE, exact=exact)
    assert breakdown.overview.source == ("raw" if exact else "rollup")
    top = breakdown.top_agents.frame
    planner = top[top["agent_id"] == str(PLANNER_ID)]
    assert planner[["agent", "agent_name", "executions"]].values.tolist() == [
        ["assistant", "assistant", 6]
    ]
    by_agent = client.cost_summary(**RANGE, by="agent", exact=exact).frame
    assert by_agent[by_agent["agent_id"] == str(PLANNER_ID)]["agent_name"].tolist() == ["assistant"]
    assert client.agent_stats(PLANNER_ID, **RANGE, exact=exact).agent_name == "assistant"
    series = client.cost_timeseries(**RANGE, by="agent", exact=exact).frame
    assert "planner" not in set(series["agent"]) and "assistant" in set(series["agent"])


@pytest.mark.parametrize("exact", [False, True])
def test_a_name_given_after_the_window_does_not_label_it(client: Analytics, exact: bool) -> None:
    """In the 7 days to now, E01 (now, "planner") is the planner's newest execution."""
    top = client.breakdown("7d", exact=exact).top_agents.frame
    assert top[top["agent_id"] == str(PLANNER_ID)]["agent"].tolist() == ["planner"]
    assert client.agent_stats(PLANNER_ID, "7d", exact=exact).agent_name == "planner"


def test_anomaly_labels_take_the_newest_name(client: Analytics) -> None:
    source = client._source
    span = Window(datetime(2026, 11, 18, tzinfo=UTC), datetime(2026, 11, 25, tzinfo=UTC), False,
                  "the range")  # fmt: skip
    for exact in (False, True):
        _, labels = anomalies_module.daily_figures(source, span, ("agent",), exact=exact)["agent"]
        assert labels[(PLANNER_ID, None)] == "assistant", exact


def test_a_model_grouping_is_not_relabelled(client: Analytics, loaded_url: str) -> None:
    """The renamed-agent lookup ran for model keys too: a run with no model (None) failed the
    anomaly scan and the whole dashboard with "'NoneType' object is not subscriptable"."""
    engine = get_engine(loaded_url)
    with engine.begin() as connection:
        no_model = {**_renamed(23, datetime(2026, 11, 23, 9), "planner"), "model_name": None}
        connection.execute(insert(AgentExecution.__table__), [no_model])
    span = Window(datetime(2026, 11, 18, tzinfo=UTC), datetime(2026, 11, 25, tzinfo=UTC), False,
                  "the range")  # fmt: skip
    for exact in (False, True):
        figures = anomalies_module.daily_figures(client._source, span, ("model",), exact=exact)
        _, labels = figures["model"]
        assert labels[None] is None and labels["gpt-4o"] == "gpt-4o", exact


def test_a_name_that_several_agents_share_says_so(db_url: str) -> None:
    """`agent planner` added the planner with an id to a run named planner without one: figures
    matching no row of top agents, with nothing said."""
    rows = [
        {**_renamed(31, datetime(2026, 11, 20, 10), "planner-v1"), "user_id": None},
        {**_renamed(32, datetime(2026, 11, 21, 10), "planner"), "user_id": None},
        {**_renamed(33, datetime(2026, 11, 22, 10), "planner"), "user_id": None, "agent_id": None},
    ]
    with get_engine(db_url).begin() as connection:
        connection.execute(insert(AgentExecution.__table__), rows)
    client = connect(db_url, now=lambda: NOW)
    shared = client.agent_stats("planner", **RANGE)
    assert (shared.total_executions, shared.agents_named) == (2, 2)
    assert (
        "'planner' names 2 agents here (runs with different agent ids, or none): these figures "
        "add them up, where top agents lists each apart; ask by agent id for one"
    ) in str(shared)
    assert client.agent_stats(PLANNER_ID, **RANGE).agents_named == 1
    assert client.agent_stats("planner-v1", **RANGE).agents_named == 1
