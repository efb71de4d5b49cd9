"""Shared formatting: a share short of the whole never reads as all of it."""

from __future__ import annotations

import pytest

from aa_notebooks.analytics.model_split import coverage_note
from aa_notebooks.formatting import coverage_percent


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
