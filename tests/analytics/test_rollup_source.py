"""Windows read through the rollups give exactly the raw numbers: windows that start and end
mid-hour, across days, with a changed (deleted) hour; percentiles from the sketches stay
within their bound of the exact ones."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime

import pytest

from aa_notebooks.analytics import Analytics, connect, rollup_source
from aa_notebooks.cli import main
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import AgentExecution
from aa_notebooks.seed import seed_database
from aa_notebooks.tracking.store import write_batch
from tests.db.rollups.helpers import execution
from tests.db.rollups.test_record import at, write_boundary_rows

WINDOWS = [
    {"period": "36h"},  # 2024-06-01 17:20 to 2024-06-02 05:20: mid-hour at both ends
    {"period": "3d"},
    {"period": "20h"},
    {"start_date": "2024-06-01", "end_date": "2024-06-01"},
    {"start_date": "2024-05-31", "end_date": "2024-06-02"},
]


def _client(url: str, now: datetime) -> Analytics:
    return connect(url, now=lambda: now)


def _numbers(result: object) -> dict:
    """A breakdown's numbers without where they came from."""
    overview = asdict(result.overview)  # type: ignore[attr-defined]
    del overview["source"], overview["percentile_bound"]
    return {
        "overview": overview,
        "top_agents": result.top_agents.to_frame().to_dict("records"),  # type: ignore[attr-defined]
        "cost_by_model": result.cost_by_model.to_frame().to_dict("records"),  # type: ignore[attr-defined]
    }


def _write_hand_data(url: str) -> None:
    write_boundary_rows(url)
    write_batch(get_engine(url), [
        execution(at(9, 15), model="gpt-4o", usages=(
            ("gpt-4o", 100, 10, "0.000500"), ("claude", 40, 4, "0.000200"),
        )),
        execution(at(4, 50, day=2), agent="writer", model="claude", time_ms=7, cost="0.25",
                  usages=(("gpt-4o-mini", 3, 3, "0.000009"),)),
    ])  # fmt: skip


@pytest.mark.parametrize("window", WINDOWS)
def test_rollups_give_the_raw_numbers(db_url: str, window: dict) -> None:
    _write_hand_data(db_url)
    client = _client(db_url, datetime(2024, 6, 2, 5, 20, tzinfo=UTC))
    fast, audit = client.breakdown(**window), client.breakdown(**window, exact=True)
    assert fast.overview.source == "rollup" and audit.overview.source == "raw"
    assert _numbers(fast) == _numbers(audit)
    expected = _numbers(audit)
    top, by_model = client.top_agents(**window), client.cost_summary(**window, by="model")
    assert top.to_frame().to_dict("records") == expected["top_agents"]
    assert by_model.to_frame().to_dict("records") == expected["cost_by_model"]


def test_a_mid_hour_window_by_hand(db_url: str) -> None:
    """17:20 on June 1 to 05:20 on June 2: the 23:59:59 and 00:00 writer executions and the
    04:50 one; the researcher's morning ones are out."""
    _write_hand_data(db_url)
    result = _client(db_url, datetime(2024, 6, 2, 5, 20, tzinfo=UTC)).overview(period="12h")
    assert result.source == "rollup" and result.percentile_bound == 0.0
    assert result.total_executions == 3
    assert str(result.total_cost_usd) == "0.260003"
    assert (result.input_tokens, result.output_tokens) == (111, 57)
    assert result.p50_ms == 50.0  # exact: 7, 50, 70


def test_a_deleted_execution_is_not_counted_before_a_rebuild(db_url: str) -> None:
    _write_hand_data(db_url)
    engine = get_engine(db_url)
    with engine.begin() as connection:
        connection.execute(
            AgentExecution.__table__.delete().where(AgentExecution.execution_time_ms == 300)
        )
    client = _client(db_url, datetime(2024, 6, 2, 5, 20, tzinfo=UTC))
    fast = client.breakdown(period="3d")
    assert fast.overview.total_executions == 6
    assert _numbers(fast) == _numbers(client.breakdown(period="3d", exact=True))


def test_sketch_percentiles_are_within_their_bound(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime(2024, 6, 10, 12, 30, tzinfo=UTC)
    seed_database(db_url, executions=3000, days=9, now=now)
    monkeypatch.setattr(rollup_source, "EXACT_PERCENTILES_UP_TO", 0)
    client = _client(db_url, now)
    for period in ("24h", "7d", "30d"):
        fast, audit = client.overview(period=period), client.overview(period=period, exact=True)
        assert (fast.source, fast.percentile_bound) == ("rollup", 0.01)
        assert "within 1% of exact" in str(fast)
        for name in ("p50_ms", "p95_ms", "p99_ms"):
            exact = getattr(audit, name)
            assert abs(getattr(fast, name) - exact) <= 0.01 * exact
        assert fast.total_cost_usd == audit.total_cost_usd
        assert fast.executions_by_status == audit.executions_by_status
        assert fast.avg_response_time_ms == audit.avg_response_time_ms


def test_the_overview_command_reads_raw_with_exact(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_hand_data(db_url)
    window = ["--start-date", "2024-06-01", "--end-date", "2024-06-02", "--format", "json"]
    found = {}
    for extra in ([], ["--exact"]):
        assert main(["--db", db_url, "overview", *window, *extra]) == 0
        found[bool(extra)] = json.loads(capsys.readouterr().out)
    assert (found[False]["source"], found[True]["source"]) == ("rollup", "raw")
    assert found[False]["total_executions"] == found[True]["total_executions"] == 7


def _with_an_untokened_run(url: str) -> None:
    """The hand data, and a 10:30 researcher run on gpt-4o (200 ms) that reports no tokens."""
    _write_hand_data(url)
    silent = execution(at(10, 30), time_ms=200)
    silent.execution.update(input_tokens=None, output_tokens=None, total_tokens=None)
    write_batch(get_engine(url), [silent])


@pytest.mark.parametrize("window", WINDOWS)
def test_compare_models_through_the_rollups_is_the_raw_one(db_url: str, window: dict) -> None:
    _with_an_untokened_run(db_url)
    client = _client(db_url, datetime(2024, 6, 2, 5, 20, tzinfo=UTC))
    fast, audit = client.compare_models(**window), client.compare_models(**window, exact=True)
    assert (fast.source, audit.source) == ("rollup", "raw")
    assert fast.to_frame().to_dict("records") == audit.to_frame().to_dict("records")
    assert fast.notes == audit.notes


def test_compare_models_by_hand(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """June 1: gpt-4o ran at 9:15, 10:30 (no tokens), 10:59, 11:00 and 11:30 (failed, no
    duration): 4 of 5 succeeded, 100/200/100/300 ms (P95 200 + 0.85 x 100), tokens in 10, 10,
    20, 1 over the 4 that report them, cost 0.005501 over 62 tokens; claude ran once, 50 ms.
    Through the sketches the P95 is within 1%."""
    _with_an_untokened_run(db_url)
    client = _client(db_url, datetime(2024, 6, 2, 5, 20, tzinfo=UTC))
    day = {"start_date": "2024-06-01", "end_date": "2024-06-01"}
    rows = client.compare_models(**day).frame.to_dict("records")
    assert [row["model"] for row in rows] == ["gpt-4o", "claude"]
    gpt = rows[0]
    assert (gpt["executions"], gpt["success_rate"], gpt["avg_response_time_ms"]) == (5, 80.0, 175.0)
    assert (gpt["p95_ms"], gpt["avg_input_tokens"]) == (285.0, 10.25)
    assert gpt["avg_output_tokens"] == 5.25
    assert gpt["total_cost_usd"] == 0.005501
    assert gpt["avg_cost_usd"] == 0.0011  # 0.0011002
    assert gpt["cost_per_success_usd"] == 0.001375  # 0.00137525, half up
    assert gpt["cost_per_1k_tokens_usd"] == 0.088726  # 5.501 / 62
    assert (rows[1]["executions"], rows[1]["p95_ms"]) == (1, 50.0)
    monkeypatch.setattr(rollup_source, "EXACT_PERCENTILES_UP_TO", 0)
    sketched = client.compare_models(**day)
    assert abs(sketched.frame["p95_ms"][0] - 285.0) <= 0.01 * 285.0
    assert sketched.notes[-1].startswith("P95 per model from the rollups' latency sketches")
