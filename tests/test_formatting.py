"""Shared formatting: a share short of the whole never reads as all of it; a duration reads in
the largest unit that fits; a day bucket reads as its UTC day."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from aa_notebooks.analytics.model_split import coverage_note
from aa_notebooks.formatting import count, coverage_percent, duration_ms, money, readable_frame


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


def test_day_buckets_read_as_their_utc_day_in_any_time_zone() -> None:
    """A UTC day's midnight in Los Angeles would read as 16:00 the day before."""
    days = pd.to_datetime(["2026-12-04 00:00", "2026-12-05 00:00"], utc=True)
    hours = pd.to_datetime(["2026-12-04 00:00", "2026-12-04 01:00"], utc=True)
    frame = pd.DataFrame({"day": days, "bucket": days, "started_at": days})
    shown = readable_frame(frame, "America/Los_Angeles")
    assert list(shown["day"]) == list(shown["bucket"]) == ["2026-12-04", "2026-12-05"]
    assert list(shown["started_at"]) == ["2026-12-03 16:00:00 PST", "2026-12-04 16:00:00 PST"]
    hourly = readable_frame(pd.DataFrame({"bucket": hours}), "America/Los_Angeles")
    assert list(hourly["bucket"]) == ["2026-12-03 16:00:00 PST", "2026-12-03 17:00:00 PST"]


@pytest.mark.parametrize(("size", "shown"), [("hour", "2026-12-03 16:00:00 PST"),
                                             ("day", "2026-12-04")])  # fmt: skip
def test_a_lone_midnight_bucket_reads_as_the_size_its_frame_names(size: str, shown: str) -> None:
    """One hourly bucket at midnight is an hour, not a day: only the frame knows which."""
    frame = pd.DataFrame({"bucket": pd.to_datetime(["2026-12-04 00:00"], utc=True)})
    frame.attrs["bucket"] = size
    assert list(readable_frame(frame, "America/Los_Angeles")["bucket"]) == [shown]


@pytest.mark.parametrize(
    ("amount", "shown"),
    [(-9.99, "-$9.99"), (-1234.5, "-$1,234.50"), (-0.0042, "-$0.0042"), (-0.005, "-$0.005"),
     (0.005, "$0.005"), (0, "$0.00"), (12.345, "$12.35"), (-12.345, "-$12.35")],
)  # fmt: skip
def test_money_puts_the_sign_before_the_dollar(amount: float, shown: str) -> None:
    """A reprice's negative difference read "$-9.99"."""
    assert money(amount) == shown


def test_values_that_are_not_finite_read_as_themselves() -> None:
    """An ad hoc query's Infinity in a cost or duration column, or a NaN cost PostgreSQL's
    NUMERIC holds, failed the whole table's display with decimal.InvalidOperation."""
    assert [money(Decimal("NaN")), money(float("inf")), money(Decimal("-Infinity"))] == [
        "NaN", "inf", "-Infinity",
    ]  # fmt: skip
    assert [duration_ms(float("inf")), duration_ms(float("-inf"))] == ["inf", "-inf"]
    assert [count(float("inf")), count(Decimal("NaN")), count(12345.0)] == ["inf", "NaN", "12,345"]
    frame = pd.DataFrame({"cost_usd": [1.5, float("inf")], "execution_time_ms": [850.0, 1e400]})
    shown = readable_frame(frame)
    assert shown.to_dict("list") == {"cost_usd": ["$1.50", "inf"],
                                     "execution_time_ms": ["850 ms", "inf"]}  # fmt: skip


def test_a_frame_with_two_columns_of_one_name_is_shown() -> None:
    """`SELECT cost_usd, cost_usd ...` in ad hoc SQL failed to display, with two tracebacks."""
    frame = pd.DataFrame([[1.5, 2.0, "a"]], columns=["cost_usd", "cost_usd", "agent"])
    shown = readable_frame(frame)
    assert list(shown.columns) == ["cost_usd", "cost_usd", "agent"]
    assert shown.values.tolist() == [["$1.50", "$2.00", "a"]]


def test_long_text_is_cut_in_a_shown_table_not_in_the_data() -> None:
    """A 6,000-character agent name made the magic's tables 74,000-222,000 px wide."""
    frame = pd.DataFrame({"agent": ["x" * 6000, "short"], "cost_usd": [1.0, 2.0]})
    shown = readable_frame(frame)
    assert shown["agent"].tolist() == ["x" * 199 + "…", "short"]
    assert len(frame.loc[0, "agent"]) == 6000


def test_step_numbers_held_as_floats_read_as_whole_numbers() -> None:
    """A top step has no parent, so pandas holds parent_step as floats: `execution ID` showed
    2.0; an ad hoc average named like one keeps its fraction."""
    frame = pd.DataFrame({"parent_step": [None, 1.0, 2.0], "depth": [0.0, 1.0, 1.5]})
    shown = readable_frame(frame)
    assert shown["parent_step"].tolist() == ["", "1", "2"]
    assert shown["depth"].tolist() == ["0", "1", "1.5"]
