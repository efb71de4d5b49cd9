"""KPI changes in words: the arrow agrees with the rounded number shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from aa_notebooks.analytics.periods import Window, resolve_window
from aa_notebooks.figures.changes import absolute, points, previous_name, relative

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SEVEN_DAYS = resolve_window("7d", None, None, NOW)


@pytest.mark.parametrize(
    ("current", "previous", "expected"),
    [
        (125, 100, "▲ 25.0% vs previous 7d"),
        (Decimal("0.75"), Decimal("1.00"), "▼ 25.0% vs previous 7d"),
        (100.04, 100, "= 0.0% vs previous 7d"),  # +0.04% shows as 0.0: no arrow up
        (99.96, 100, "= 0.0% vs previous 7d"),
        (100.06, 100, "▲ 0.1% vs previous 7d"),
        (5, 0, "▲ from 0 in previous 7d"),
        (0, 0, "= 0 in previous 7d"),
        (5, None, "no data in previous 7d"),
    ],
)
def test_relative(current, previous, expected) -> None:
    assert relative(current, previous, SEVEN_DAYS) == expected


@pytest.mark.parametrize(
    ("current", "previous", "expected"),
    [
        (80.0, 82.5, "▼ 2.5 pp vs previous 7d"),
        (85.04, 85.0, "= 0.0 pp vs previous 7d"),
        (62.5, 100.0, "▼ 37.5 pp vs previous 7d"),
        (50.0, None, "no data in previous 7d"),
    ],
)
def test_points(current, previous, expected) -> None:
    assert points(current, previous, SEVEN_DAYS) == expected


def test_absolute() -> None:
    assert absolute(8, 1, SEVEN_DAYS) == "▲ 7 vs previous 7d"
    assert absolute(1, 8, SEVEN_DAYS) == "▼ 7 vs previous 7d"
    assert absolute(3, 3, SEVEN_DAYS) == "= 0 vs previous 7d"


def test_a_date_range_is_compared_with_the_dates_before_it() -> None:
    january = resolve_window(None, "2026-01-01", "2026-01-31", NOW)
    assert previous_name(january) == "2025-12-01 to 2025-12-31"  # 31 days before January 1st
    assert relative(110, 100, january) == "▲ 10.0% vs 2025-12-01 to 2025-12-31"
    assert points(50.0, None, january) == "no data in 2025-12-01 to 2025-12-31"
    assert absolute(1, 3, january) == "▼ 2 vs 2025-12-01 to 2025-12-31"


def test_windows_that_do_not_start_at_midnight_name_their_times() -> None:
    since = resolve_window(None, "2026-11-24", None, NOW)  # [Nov 24 00:00, Nov 25 12:00]
    assert previous_name(since) == "2026-11-22 12:00 to 2026-11-24 00:00 UTC"
    previous = Window(NOW - timedelta(days=14), NOW - timedelta(days=7), False, "7d, previous")
    assert previous_name(previous) == "2026-11-04 12:00 to 2026-11-11 12:00 UTC"
    assert previous_name(resolve_window("36h", None, None, NOW)) == "previous 36h"
