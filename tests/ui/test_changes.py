"""KPI changes in words: the arrow agrees with the rounded number shown."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aa_notebooks.ui.changes import absolute, points, relative


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
    assert relative(current, previous, "7d") == expected


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
    assert points(current, previous, "7d") == expected


def test_absolute() -> None:
    assert absolute(8, 1, "7d") == "▲ 7 vs previous 7d"
    assert absolute(1, 8, "7d") == "▼ 7 vs previous 7d"
    assert absolute(3, 3, "7d") == "= 0 vs previous 7d"
