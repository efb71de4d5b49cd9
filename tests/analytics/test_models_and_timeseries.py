"""`compare_models` and `timeseries` against hand-worked answers."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
import pytest

from aa_notebooks.analytics import Analytics
from aa_notebooks.errors import InvalidInputError
from tests.analytics.dataset import UNPRICED


def test_compare_models(analytics: Analytics) -> None:
    result = analytics.compare_models()
    rows = result.frame.set_index("model")
    assert list(rows.index) == ["gpt-4o", "claude-3-5-sonnet", UNPRICED]  # most used first
    gpt = rows.loc["gpt-4o"]  # E01 E02 (success) E04 (timeout) E07 (failure)
    assert (gpt["executions"], gpt["success_rate"]) == (4, 50.0)
    assert gpt["avg_response_time_ms"] == 30812.5  # (1000 + 2000 + 120000 + 250) / 4
    assert gpt["p95_ms"] == 102300.0  # sorted 250 1000 2000 120000; 2.85 -> 2000 + 0.85 x 118000
    assert (gpt["avg_input_tokens"], gpt["avg_output_tokens"]) == (177.5, 37.5)  # 710/4, 150/4
    assert gpt["total_cost_usd"] == 0.0086
    assert gpt["avg_cost_usd"] == 0.00215
    assert gpt["cost_per_success_usd"] == 0.0043  # 0.0086 / 2
    assert gpt["cost_per_1k_tokens_usd"] == 0.01  # 0.0086 x 1000 / 860
    claude = rows.loc["claude-3-5-sonnet"]  # E03 (failure) E06 E08
    assert claude["success_rate"] == 66.666667
    assert claude["avg_response_time_ms"] == 1733.333333  # 5200 / 3
    assert claude["p95_ms"] == 3670.0  # sorted 500 700 4000; 1.9 -> 700 + 0.9 x 3300
    assert (claude["avg_input_tokens"], claude["avg_output_tokens"]) == (316.666667, 108.333333)
    assert claude["avg_cost_usd"] == 0.002475  # 0.007425 / 3
    assert claude["cost_per_success_usd"] == 0.003713  # 0.0037125, half up
    assert claude["cost_per_1k_tokens_usd"] == 0.005824  # 7.425 / 1275
    unpriced = rows.loc[UNPRICED]
    assert (bool(unpriced["priced"]), unpriced["p95_ms"], unpriced["total_cost_usd"]) == (
        False,
        3000.0,
        0.0,
    )
    assert result.notes[0] == f"Unpriced models (their calls count as $0): {UNPRICED}"


def test_daily_timeseries(analytics: Analytics) -> None:
    frame = analytics.timeseries().frame
    assert list(frame["bucket"]) == list(pd.date_range("2026-11-18", periods=8, freq="D", tz="UTC"))
    assert list(frame["executions"]) == [2, 0, 1, 0, 1, 1, 1, 2]
    first, last = frame.iloc[0], frame.iloc[-1]
    # the 18th: E02 (2000 ms) and E08 (4000 ms), not E09 (11:59, outside the window)
    assert (first["success_rate"], first["avg_response_time_ms"], first["p95_ms"]) == (
        100.0,
        3000.0,
        3900.0,  # 2000 + 0.95 x 2000
    )
    assert first["cost_usd"] == 0.0093
    # the 25th: E03 (failure, 500 ms) and E01 (success, 1000 ms, exactly at now)
    assert (last["success_rate"], last["p95_ms"], last["cost_usd"]) == (50.0, 975.0, 0.0024)
    empty = frame.iloc[1]
    assert empty["cost_usd"] == 0.0
    assert all(math.isnan(empty[c]) for c in ("success_rate", "avg_response_time_ms", "p95_ms"))


def test_hourly_timeseries(analytics: Analytics) -> None:
    frame = analytics.timeseries(bucket="hour").frame.set_index("bucket")
    assert len(frame) == 7 * 24 + 1  # 12:00 on the 18th to 12:00 on the 25th, both included
    at = pd.Timestamp
    assert frame.loc[at("2026-11-18 12:00", tz="UTC"), "executions"] == 1  # E02 at the boundary
    assert frame.loc[at("2026-11-18 13:00", tz="UTC"), "executions"] == 1  # E08
    assert frame.loc[at("2026-11-25 11:00", tz="UTC"), "executions"] == 1  # E03
    assert frame.loc[at("2026-11-25 12:00", tz="UTC"), "executions"] == 1  # E01 at now
    assert frame["executions"].sum() == 8


def test_an_hourly_series_of_one_midnight_reads_as_an_hour(analytics: Analytics) -> None:
    table = analytics.timeseries(bucket="hour")
    midnight = table.frame[table.frame["bucket"] == pd.Timestamp("2026-11-19 00:00", tz="UTC")]
    shown = str(dataclasses.replace(table, frame=midnight.reset_index(drop=True)))
    assert "2026-11-19 00:00:00 UTC" in shown, shown
    daily = analytics.timeseries()
    assert "2026-11-19 00:00" not in str(daily) and "2026-11-19" in str(daily)


def test_hourly_timeseries_longer_than_one_query(analytics: Analytics) -> None:
    frame = analytics.timeseries("30d", bucket="hour").frame  # 721 buckets: two queries
    assert len(frame) == 30 * 24 + 1
    assert frame["bucket"].is_monotonic_increasing
    assert frame["executions"].sum() == 10  # E01..E10
    assert frame["cost_usd"].sum() == pytest.approx(1.516025)


def test_timeseries_scope_dates_and_errors(analytics_u1: Analytics) -> None:
    frame = analytics_u1.timeseries(start_date="2026-11-24", end_date="2026-11-25").frame
    # U1: E06 on the 24th; E01 and E11 (12:01, after now but inside the whole day) on the 25th
    assert list(frame["executions"]) == [1, 2]
    with pytest.raises(InvalidInputError, match="bucket must be one of hour, day"):
        analytics_u1.timeseries(bucket="minute")
    with pytest.raises(InvalidInputError, match="use bucket='day' or a shorter period"):
        analytics_u1.timeseries("52w", bucket="hour")
