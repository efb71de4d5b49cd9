"""`overview` against the hand-made dataset, with the answers worked out by hand."""

from __future__ import annotations

import math
import sqlite3
import uuid
from decimal import Decimal
from pathlib import Path

from aa_notebooks.analytics import Analytics, connect
from tests.analytics.dataset import U1, UNPRICED
from tests.cli.test_database_commands import document_sqlite


def test_overview_of_the_default_7_days(analytics: Analytics) -> None:
    result = analytics.overview()
    # E01..E08: E01 exactly at now and E02 exactly at now - 7d are in; E09 (7d + 1 min) is out.
    assert result.total_executions == 8
    assert result.executions_by_status == {"success": 5, "failure": 2, "timeout": 1}
    assert result.success_rate == 62.5  # 5 / 8 x 100
    # times 250 500 700 1000 2000 3000 4000 120000: sum 131450 / 8
    assert result.avg_response_time_ms == 16431.25
    # percentile_cont over n = 8: position p x 7, linear between neighbours
    assert result.p50_ms == 1500.0  # 3.5 -> 1000 + 0.5 x (2000 - 1000)
    assert result.p95_ms == 79400.0  # 6.65 -> 4000 + 0.65 x (120000 - 4000)
    assert result.p99_ms == 111880.0  # 6.93 -> 4000 + 0.93 x 116000
    # 0.0015 + 0.003 + 0.0009 + 0.004 + 0 + 0.000225 + 0.0001 + 0.0063
    assert result.total_cost_usd == Decimal("0.016025")
    assert isinstance(result.total_cost_usd, Decimal)
    # 0.016025 / 7 days x 30 = 0.0686785714... -> 6 places, half up
    assert result.monthly_projection_usd == Decimal("0.068679")
    assert (result.input_tokens, result.output_tokens, result.total_tokens) == (2660, 975, 3635)
    assert result.active_agents == 4  # planner (id), researcher (id), SCRIPT, DROP (names)
    assert result.unpriced_models == (UNPRICED,)
    assert result.scope == "all users"
    assert result.window.label == "7d"


def test_overview_scoped_to_one_user(analytics_u1: Analytics) -> None:
    result = analytics_u1.overview()
    # U1 in the window: E01 E02 E05 E06 E08, all successful
    assert result.total_executions == 5
    assert result.success_rate == 100.0
    assert result.avg_response_time_ms == 2140.0  # (1000+2000+3000+700+4000) / 5
    # sorted 700 1000 2000 3000 4000; positions p x 4
    assert (result.p50_ms, result.p95_ms, result.p99_ms) == (2000.0, 3800.0, 3960.0)
    assert result.total_cost_usd == Decimal("0.011025")
    assert (result.input_tokens, result.output_tokens) == (1950, 975)
    assert result.active_agents == 3  # planner, SCRIPT, researcher
    assert result.scope == f"user {U1}"


def test_overview_of_24h_and_30d(analytics: Analytics) -> None:
    day = analytics.overview("24h")  # E03 (now - 1h) and E01 (now)
    assert day.total_executions == 2
    assert (day.p50_ms, day.p95_ms, day.p99_ms) == (750.0, 975.0, 995.0)  # 500 + p x 500
    assert day.total_cost_usd == Decimal("0.002400")
    assert day.monthly_projection_usd == Decimal("0.072000")  # 0.0024 / 1 x 30
    assert day.unpriced_models == ()
    month = analytics.overview("30d")  # E01..E10
    assert month.total_executions == 10
    assert month.total_cost_usd == Decimal("1.516025")  # 0.016025 + 1 + 0.5
    assert month.monthly_projection_usd == Decimal("1.516025")  # / 30 x 30


def test_a_range_through_today_projects_from_the_days_gone_by(analytics: Analytics) -> None:
    """November on the 25th at noon: 24.5 days of runs, not 30, make the month's projection."""
    month = analytics.overview(start_date="2026-11-01", end_date="2026-11-30")
    # E01-E11 (E11 a minute past now); E12 started in October
    assert month.total_cost_usd == Decimal("3.516025")
    assert month.monthly_projection_usd == Decimal("4.305337")  # 3.516025 / 24.5 x 30
    ahead = analytics.overview(start_date="2026-12-01", end_date="2026-12-31")
    assert (ahead.total_cost_usd, ahead.monthly_projection_usd) == (0, 0)


def test_overview_of_dates_and_of_an_empty_window(analytics: Analytics) -> None:
    one_day = analytics.overview(start_date="2026-11-18", end_date="2026-11-18")
    assert one_day.total_executions == 3  # E09 11:59, E02 12:00, E08 13:00
    assert one_day.total_cost_usd == Decimal("1.009300")
    assert one_day.monthly_projection_usd == Decimal("30.279000")
    empty = analytics.overview(start_date="2026-01-01", end_date="2026-01-02")
    assert empty.total_executions == 0
    assert empty.executions_by_status == {"success": 0, "failure": 0, "timeout": 0}
    assert empty.success_rate is None  # unknown, not zero
    assert (empty.avg_response_time_ms, empty.p50_ms, empty.p95_ms, empty.p99_ms) == (None,) * 4
    assert empty.total_cost_usd == Decimal("0.000000")
    assert (empty.active_agents, empty.total_tokens, empty.unpriced_models) == (0, 0, ())


def test_overview_of_the_previous_window(analytics: Analytics) -> None:
    previous = analytics.window("7d").previous()  # [now - 14d, now - 7d): only E09
    result = analytics.overview(previous)
    assert result.total_executions == 1
    assert result.total_cost_usd == Decimal("1.000000")
    assert result.window is previous


def test_a_status_another_program_wrote_is_counted_as_other(tmp_path: Path) -> None:
    """SQLite keeps any text in status: the counts per status add up to the total."""
    url = document_sqlite(tmp_path / "agentos.db")
    with sqlite3.connect(tmp_path / "agentos.db") as connection:
        connection.executemany(
            "INSERT INTO agentexecutions (id, request_id, session_id, status, cost_usd, "
            "started_at) VALUES (?, ?, ?, ?, 1, '2026-11-05 10:00:00')",
            [(str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4()), status)
             for status in ("success", "success", "success", "cancelled")],
        )  # fmt: skip
    overview = connect(url).overview(start_date="2026-11-05", end_date="2026-11-05")
    assert overview.total_executions == 4
    assert overview.executions_by_status == {"success": 3, "failure": 0, "timeout": 0, "other": 1}
    assert "By status                success 3, failure 0, timeout 0, other 1" in str(overview)


def test_text_another_program_left_among_durations_is_not_a_latency(tmp_path: Path) -> None:
    """SQLite keeps '' (a CSV import's empty cell) or 'fast' in execution_time_ms as text: the
    percentiles are those of the numbers, not an aggregate error read as a broken database."""
    url = _document_runs(tmp_path, [(None, ms) for ms in (100, 200, 300, "", "fast")])
    overview = connect(url).overview(start_date="2026-11-05", end_date="2026-11-05", exact=True)
    assert overview.total_executions == 5
    # numpy.percentile([100, 200, 300], [50, 95, 99]), linear interpolation
    assert (overview.p50_ms, overview.p95_ms, overview.p99_ms) == (200.0, 290.0, 298.0)


def test_a_model_whose_only_durations_are_text_has_no_percentiles(tmp_path: Path) -> None:
    """Text alone sorts without an error: model g's one run, 'slow', made the percentile
    aggregate fail (and with it the anomaly scan and the cost report), read as a broken file."""
    runs = [("f", 100), ("f", 300), ("g", "slow"), ("h", "slow"), ("h", "slower")]
    url = _document_runs(tmp_path, runs)
    table = connect(url).compare_models(start_date="2026-11-05", end_date="2026-11-05", exact=True)
    p95 = dict(zip(table.frame["model"], table.frame["p95_ms"], strict=True))
    assert p95["f"] == 290.0  # numpy.percentile([100, 300], 95)
    assert math.isnan(p95["g"]) and math.isnan(p95["h"])


def _document_runs(folder: Path, runs: list[tuple[str | None, object]]) -> str:
    """An SQLite file made by the data contract's DDL, holding one successful $1 run per
    (model_name, execution_time_ms) on 2026-11-05 10:00, written with plain SQL (as another
    program, which may leave text in a number column); its URL."""
    url = document_sqlite(folder / "agentos.db")
    with sqlite3.connect(folder / "agentos.db") as connection:
        connection.executemany(
            "INSERT INTO agentexecutions (id, request_id, session_id, model_name, status, "
            "cost_usd, execution_time_ms, started_at) VALUES (?, ?, ?, ?, 'success', 1, ?, "
            "'2026-11-05 10:00:00')",
            [(str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4()), model, ms)
             for model, ms in runs],
        )  # fmt: skip
    return url


def test_text_that_is_not_utf8_reads_with_replacement_characters(tmp_path: Path) -> None:
    """Another program stored an agent name and a query cut inside an emoji as TEXT: sqlite3
    refused the whole result, and the dashboard and the grid said "cannot open database"."""
    url = document_sqlite(tmp_path / "agentos.db")
    with sqlite3.connect(tmp_path / "agentos.db") as connection:
        connection.execute(
            "INSERT INTO agentexecutions (id, request_id, session_id, status, agent_name, "
            "query_preview, cost_usd, started_at) VALUES (?, ?, ?, 'success', "
            "CAST(x'726573f09f' AS TEXT), CAST(x'f09f9a80f09f' AS TEXT), 1, "
            "'2026-11-05 10:00:00')",
            (str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())),
        )
    analytics = connect(url)
    window = {"start_date": "2026-11-05", "end_date": "2026-11-05"}
    assert analytics.overview(**window).total_executions == 1
    assert list(analytics.top_agents(**window).frame["agent_name"]) == ["res\ufffd"]
    assert list(analytics.executions(**window).rows["query_preview"]) == ["\U0001f680\ufffd"]
