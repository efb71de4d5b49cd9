"""Analysis windows: periods such as `7d`, or inclusive UTC calendar dates, resolved on a clock.

A period `N` is the closed window `[now - N, now]`; `start_date`/`end_date` cover whole UTC days,
from 00:00 of the start to the end of the end date. Storage keeps microseconds, so a closed end
is the same as an open end one microsecond later; queries use the open form (`bounds`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from aa_notebooks.errors import InvalidInputError

DEFAULT_PERIOD = "7d"
ACCEPTED_PERIODS = "24h, 7d, 30d, 90d or any positive Nh, Nd, Nw (e.g. 36h, 2w)"
ACCEPTED_DATES = "start_date/end_date as YYYY-MM-DD (inclusive, UTC)"
_PERIOD = re.compile(r"([0-9]+)([hdw])")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_RESOLUTION = timedelta(microseconds=1)
MAX_PERIOD = timedelta(days=36_500)
# Dates a window may start or end on: a window, and the one before it (change versus before),
# must stay within the years Python and the databases can hold (1-9999).
FIRST_DATE, LAST_DATE = date(1900, 1, 1), date(2999, 12, 31)
_SECONDS_PER_DAY = Decimal(86_400)


@dataclass(frozen=True)
class Window:
    """A span of time to analyse; `start` and `end` are aware UTC datetimes.

    `end_inclusive` is True for periods (`[now - N, now]`) and False for date ranges and previous
    windows (`[start, end)`). `label` names the window for people ("7d", "2026-01-01 to ...").
    """

    start: datetime
    end: datetime
    end_inclusive: bool
    label: str
    taken_at: datetime | None = None
    """When a window that ends later was taken (a date range through today or beyond): no run
    can lie after it yet."""

    @property
    def duration(self) -> timedelta:
        """The window's length."""
        return self.end - self.start

    @property
    def days(self) -> Decimal:
        """The window's length in days, exactly."""
        return _in_days(self.duration)

    @property
    def elapsed_days(self) -> Decimal:
        """The days of the window gone by when it was taken, exactly (what a projection divides
        the window's cost by: a month's range on its 7th holds 7 days of runs, not 31)."""
        return max(_in_days(self._gone_by), Decimal(0))

    @property
    def _gone_by(self) -> timedelta:
        """The part of the window before it was taken (negative for one that starts later)."""
        end = self.end if self.taken_at is None else min(self.end, self.taken_at)
        return end - self.start

    def bounds(self) -> tuple[datetime, datetime]:
        """Half-open `[lower, upper)` bounds, as queries compare them."""
        return self.start, self.end + _RESOLUTION if self.end_inclusive else self.end

    def previous(self) -> Window:
        """The window of the same length just before this one (for change versus before); for
        one taken before its end, as long as the part gone by (the 7th's month to date is
        compared with the 7 days before it, not 31)."""
        length = self._gone_by if self._gone_by > timedelta(0) else self.duration
        return Window(self.start - length, self.start, False, f"{self.label}, previous")

    def __str__(self) -> str:
        closing = "]" if self.end_inclusive else ")"
        return f"{self.label} [{self.start:%Y-%m-%d %H:%M} – {self.end:%Y-%m-%d %H:%M}{closing} UTC"


def parse_period(text: str) -> timedelta:
    """`24h`, `7d`, `2w`... as a timedelta; anything else is an error listing the accepted forms."""
    match = _PERIOD.fullmatch(text.strip().lower()) if isinstance(text, str) else None
    if match is None or int(match.group(1)) == 0:
        raise InvalidInputError(f"period must be {ACCEPTED_PERIODS}; got {text!r}")
    length = int(match.group(1)) * _UNITS[match.group(2)] if len(match.group(1)) < 9 else None
    if length is None or length > MAX_PERIOD:
        raise InvalidInputError(
            f"period {text!r} is longer than {MAX_PERIOD.days:,} days (100 years); "
            f"use a shorter one, e.g. 90d"
        )
    return length


def parse_date(value: str | date, name: str) -> date:
    """A calendar date from `YYYY-MM-DD` text or a `date` (not a datetime: a time would be lost),
    from FIRST_DATE to LAST_DATE."""
    if isinstance(value, datetime):
        raise InvalidInputError(f"{name} takes a date without a time of day; got {value!r}")
    if isinstance(value, date):
        day = value
    else:
        try:
            day = date.fromisoformat(str(value).strip())
        except ValueError:
            raise InvalidInputError(f"{name} must be a date as YYYY-MM-DD; got {value!r}") from None
    if not FIRST_DATE <= day <= LAST_DATE:
        raise InvalidInputError(f"{name} must be from {FIRST_DATE} to {LAST_DATE}; got {day}")
    return day


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def resolve_window(
    period: str | Window | None,
    start_date: str | date | None,
    end_date: str | date | None,
    now: datetime,
) -> Window:
    """The window for an endpoint's `period`/`start_date`/`end_date`; the default is 7d.

    A `Window` given as `period` is used as it is (e.g. `window.previous()`). Giving both a period
    and dates, only an end date, or an end before the start is an error listing the accepted forms.
    """
    if period is not None and (start_date is not None or end_date is not None):
        raise InvalidInputError(
            f"give either a period ({ACCEPTED_PERIODS}) or {ACCEPTED_DATES}, not both"
        )
    if isinstance(period, Window):
        return period
    if start_date is None and end_date is None:
        text = DEFAULT_PERIOD if period is None else period
        return Window(now - parse_period(text), now, True, text.strip().lower())
    if start_date is None:
        raise InvalidInputError(f"end_date needs a start_date too: {ACCEPTED_DATES}")
    first = parse_date(start_date, "start_date")
    if end_date is None:
        if _midnight(first) > now:
            raise InvalidInputError(f"start_date {first} is in the future (today is {now:%F} UTC)")
        return Window(_midnight(first), now, True, f"since {first}")
    last = parse_date(end_date, "end_date")
    if last < first:
        raise InvalidInputError(f"end_date {last} is before start_date {first}: {ACCEPTED_DATES}")
    end = _midnight(last + timedelta(days=1))
    return Window(_midnight(first), end, False, f"{first} to {last}", now if end > now else None)


def _in_days(span: timedelta) -> Decimal:
    """A span in days, exactly (to the microsecond)."""
    return Decimal(span // _RESOLUTION) / 1_000_000 / _SECONDS_PER_DAY
