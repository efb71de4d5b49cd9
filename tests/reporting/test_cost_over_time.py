"""The cost report's cost-over-time chart: days up to 92 days, then weeks, then months, so a
year of fifteen models stays a chart to read (and under Altair's row limit)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from IPython.display import Image

from aa_notebooks.analytics import Window, connect
from aa_notebooks.reporting.cost_report import CostReport, _drawn_unit, _summed_per
from aa_notebooks.reporting.parameters import ReportParameters
from tests.analytics import dataset

END = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _window(days: int) -> Window:
    return Window(start=END - timedelta(days=days), end=END, label=f"{days}d", end_inclusive=True)


@pytest.mark.parametrize(
    ("days", "unit"), [(2, "hour"), (30, "day"), (92, "day"), (93, "week"), (732, "week"),
                       (733, "month")],
)  # fmt: skip
def test_the_unit_follows_the_windows_length(days: int, unit: str) -> None:
    bucket = "hour" if days <= 2 else "day"
    assert _drawn_unit(_window(days), bucket) == unit


def test_days_are_summed_per_week_from_monday_and_per_calendar_month() -> None:
    days = pd.to_datetime(
        ["2026-01-04", "2026-01-05", "2026-01-11", "2026-01-12", "2026-02-01", "2026-01-05"],
        utc=True,
    )  # a Sunday, the next Monday, that week's Sunday, the Monday after, February; "b" once
    series = pd.DataFrame(
        {"bucket": days, "model": ["a", "a", "a", "a", "a", None], "cost_usd": [1, 2, 4, 8, 16, 32]}
    )
    weeks = _summed_per(series, "week")
    assert weeks.to_dict("records") == [
        {"bucket": pd.Timestamp("2025-12-29", tz="UTC"), "model": "a", "cost_usd": 1},
        {"bucket": pd.Timestamp("2026-01-05", tz="UTC"), "model": "(none)", "cost_usd": 32},
        {"bucket": pd.Timestamp("2026-01-05", tz="UTC"), "model": "a", "cost_usd": 6},
        {"bucket": pd.Timestamp("2026-01-12", tz="UTC"), "model": "a", "cost_usd": 8},
        {"bucket": pd.Timestamp("2026-01-26", tz="UTC"), "model": "a", "cost_usd": 16},
    ]
    months = _summed_per(series, "month")
    assert months.to_dict("records") == [
        {"bucket": pd.Timestamp("2026-01-01", tz="UTC"), "model": "(none)", "cost_usd": 32},
        {"bucket": pd.Timestamp("2026-01-01", tz="UTC"), "model": "a", "cost_usd": 15},
        {"bucket": pd.Timestamp("2026-02-01", tz="UTC"), "model": "a", "cost_usd": 16},
    ]


@pytest.mark.parametrize("period", ["400d", "2000d"])
def test_a_long_window_is_drawn(db_url: str, period: str) -> None:
    """The dataset's models over 400 days (per week) and 2,000 days (per month) are drawn; more
    rows than Altair embeds are drawn too (tests/reporting/test_blocks.py)."""
    dataset.load(db_url)
    analytics = connect(db_url, now=lambda: dataset.NOW)
    report = CostReport(analytics, ReportParameters(period=period), analytics.window(period))
    image = report.cost_over_time()
    assert isinstance(image, Image) and image.data[:8] == b"\x89PNG\r\n\x1a\n"
