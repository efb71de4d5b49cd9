"""Shared formatting: a share short of the whole never reads as all of it; a duration reads in
the largest unit that fits."""

from __future__ import annotations

import pytest

from aa_notebooks.analytics.model_split import coverage_note
from aa_notebooks.formatting import coverage_percent, duration_ms


@pytest.mark.parametrize(
    ("share", "shown"),
    [
        (99.960016, "99.9%"),
        (99.99, "99.9%"),
        (100.0, "100.0%"),
        (93.67, "93.7%"),
        (58.7345, "58.7%"),
        (0.0, "0.0%"),
    ],
)
def test_coverage_percent_stops_short_of_100(share: float, shown: str) -> None:
    assert coverage_percent(share) == shown


def test_a_coverage_note_under_100_percent_never_says_100() -> None:
    assert coverage_note(99.960016) == "Cost coverage: 99.9% of tokens are priced by a known price"
    assert coverage_note(100.0) is None


@pytest.mark.parametrize(
    ("ms", "shown"),
    [
        (850, "850 ms"), (2410, "2.41 s"), (185_000, "3m 05s"), (3_599_000, "59m 59s"),
        (3_600_000, "1h 00m"), (18_420_000, "5h 07m"), (86_399_000, "1d 00h"),
        (86_400_000, "1d 00h"), (2**31 - 1, "24d 21h"), (10**11, "1,157d 10h"),
    ],
)  # fmt: skip
def test_durations_read_in_the_largest_unit_that_fits(ms: float, shown: str) -> None:
    assert duration_ms(ms) == shown
