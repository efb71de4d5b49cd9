"""Periods and date ranges resolve to the windows the issue defines; bad input names the fix."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from aa_notebooks.analytics.periods import Window, parse_period, resolve_window
from aa_notebooks.errors import InvalidInputError

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
        ("30d", timedelta(days=30)),
        ("90d", timedelta(days=90)),
        ("36h", timedelta(hours=36)),
        ("2w", timedelta(days=14)),
        (" 7D ", timedelta(days=7)),
    ],
)
def test_periods_parse(text: str, length: timedelta) -> None:
    assert parse_period(text) == length


@pytest.mark.parametrize("text", ["0d", "-1d", "7x", "7", "d", "1.5d", "", "7 d", "7dd", "1m"])
def test_bad_periods_list_the_accepted_forms(text: str) -> None:
    with pytest.raises(InvalidInputError, match=r"24h, 7d, 30d, 90d or any positive Nh, Nd, Nw"):
        parse_period(text)


@pytest.mark.parametrize("text", ["36501d", "5215w", "876001h", "99999999999999d", "9" * 40 + "h"])
def test_periods_longer_than_a_century_are_refused_not_overflowed(text: str) -> None:
    with pytest.raises(InvalidInputError, match=r"is longer than 36,500 days \(100 years\)"):
        resolve_window(text, None, None, NOW)


def test_a_century_is_accepted() -> None:
    assert parse_period("36500d") == parse_period("876000h") == timedelta(days=36_500)


def test_default_window_is_the_last_7_days_closed() -> None:
    window = resolve_window(None, None, None, NOW)
    assert (window.start, window.end, window.end_inclusive) == (NOW - timedelta(days=7), NOW, True)
    assert window.label == "7d"
    # closed [start, now] is queried as [start, now + 1 µs): storage keeps microseconds
    assert window.bounds() == (NOW - timedelta(days=7), NOW + timedelta(microseconds=1))
    assert window.elapsed_days == Decimal(7)


def test_period_window_and_its_length_in_days() -> None:
    window = resolve_window("36h", None, None, NOW)
    assert window.start == datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
    assert window.elapsed_days == Decimal("1.5")


def test_dates_are_inclusive_whole_utc_days() -> None:
    window = resolve_window(None, "2026-11-01", date(2026, 11, 3), NOW)
    assert window.start == datetime(2026, 11, 1, tzinfo=UTC)
    assert window.end == datetime(2026, 11, 4, tzinfo=UTC)  # end of 2026-11-03
    assert not window.end_inclusive
    assert window.elapsed_days == Decimal(3)
    assert window.label == "2026-11-01 to 2026-11-03"


def test_a_range_that_ends_later_counts_the_days_gone_by() -> None:
    month = resolve_window(None, "2026-11-01", "2026-11-30", NOW)  # NOW: the 25th at noon
    assert (month.end, month.taken_at) == (datetime(2026, 12, 1, tzinfo=UTC), NOW)
    assert month.elapsed_days == Decimal("24.5")
    assert month.days == 30
    before = month.previous()  # as long as the part gone by
    assert (before.start, before.end) == (datetime(2026, 10, 7, 12, tzinfo=UTC), month.start)
    assert resolve_window(None, "2026-12-01", "2026-12-31", NOW).elapsed_days == 0
    assert resolve_window(None, "2026-11-01", "2026-11-03", NOW).taken_at is None


def test_one_day_range_and_start_date_alone() -> None:
    one_day = resolve_window(None, "2026-11-18", "2026-11-18", NOW)
    assert one_day.duration == timedelta(days=1)
    since = resolve_window(None, "2026-11-20", None, NOW)
    assert (since.start, since.end, since.end_inclusive) == (
        datetime(2026, 11, 20, tzinfo=UTC),
        NOW,
        True,
    )


def test_previous_window_has_the_same_length_just_before() -> None:
    window = resolve_window("7d", None, None, NOW)
    previous = window.previous()
    assert previous.start == NOW - timedelta(days=14)
    assert previous.end == window.start
    assert not previous.end_inclusive  # the boundary belongs to the current window only
    assert resolve_window(previous, None, None, NOW) is previous


@pytest.mark.parametrize(
    ("period", "start", "end", "message"),
    [
        ("7d", "2026-11-01", None, "not both"),
        ("7d", None, "2026-11-02", "not both"),
        (None, "2026-11-05", "2026-11-01", "before start_date"),
        (None, None, "2026-11-01", "needs a start_date"),
        (None, "2026-13-01", "2026-11-01", "YYYY-MM-DD"),
        (None, "yesterday", None, "YYYY-MM-DD"),
        (None, datetime(2026, 11, 1, tzinfo=UTC), None, "without a time"),
        (None, "2026-12-01", None, "in the future"),
    ],
)
def test_bad_windows_say_what_is_accepted(
    period: str | None, start: object, end: object, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        resolve_window(period, start, end, NOW)  # type: ignore[arg-type]


def test_window_text_names_label_bounds_and_closing() -> None:
    assert str(resolve_window("24h", None, None, NOW)) == (
        "24h [2026-11-24 12:00 – 2026-11-25 12:00] UTC"
    )
    assert isinstance(resolve_window(None, "2026-11-01", "2026-11-02", NOW), Window)
