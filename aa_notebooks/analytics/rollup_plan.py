"""Which parts of a window the rollups answer: whole days, whole hours, and the raw rest.

A window [lower, upper) is cut at the first and last whole hour inside it: the partial hours at
either end are read from the raw rows. Between them, whole UTC days come from the daily rollup
and the hours around them from the hourly one. An hour that changed behind the rollups (marked
in rollup_dirty_hours) is read raw too, and its day from the hourly rollup.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
Span = tuple[datetime, datetime]
"""[start, end), aware UTC."""


@dataclass(frozen=True)
class ReadPlan:
    """The spans of a window read from the raw rows, the hourly and the daily rollups."""

    raw: list[Span]
    hours: list[Span]
    days: list[Span]

    @property
    def uses_rollups(self) -> bool:
        """Whether any part of the window comes from the rollups."""
        return bool(self.hours or self.days)

    def in_hours(self) -> ReadPlan:
        """The same plan reading its days from the hourly rollup (for hourly buckets)."""
        return ReadPlan(self.raw, _joined([*self.hours, *self.days]), [])


def _floor(moment: datetime, unit: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return moment - (moment - epoch) % unit


def _ceil(moment: datetime, unit: timedelta) -> datetime:
    floor = _floor(moment, unit)
    return floor if floor == moment else floor + unit


def _units(start: datetime, end: datetime, unit: timedelta) -> list[datetime]:
    found = []
    while start < end:
        found.append(start)
        start += unit
    return found


def _spans(starts: Iterable[datetime], unit: timedelta) -> list[Span]:
    """Adjacent units joined into spans."""
    spans: list[Span] = []
    for start in sorted(starts):
        if spans and spans[-1][1] == start:
            spans[-1] = (spans[-1][0], start + unit)
        else:
            spans.append((start, start + unit))
    return spans


def plan_window(lower: datetime, upper: datetime, dirty: Iterable[datetime]) -> ReadPlan:
    """How to read [lower, upper) (aware UTC) given the hours marked as changed."""
    first_hour, last_hour = _ceil(lower, HOUR), _floor(upper, HOUR)
    if first_hour >= last_hour:
        return ReadPlan([(lower, upper)], [], [])
    first_day, last_day = _ceil(first_hour, DAY), _floor(last_hour, DAY)
    if first_day >= last_day:
        days: list[datetime] = []
        hours = _units(first_hour, last_hour, HOUR)
    else:
        days = _units(first_day, last_day, DAY)
        hours = _units(first_hour, first_day, HOUR) + _units(last_day, last_hour, HOUR)
    changed = {hour for hour in dirty if first_hour <= hour < last_hour}
    changed_days = {_floor(hour, DAY) for hour in changed}
    for day in sorted(changed_days & set(days)):
        hours += _units(day, day + DAY, HOUR)
    days = [day for day in days if day not in changed_days]
    hours = [hour for hour in hours if hour not in changed]
    raw = [(lower, first_hour), *((hour, hour + HOUR) for hour in changed), (last_hour, upper)]
    return ReadPlan(_joined(raw), _spans(hours, HOUR), _spans(days, DAY))


def _joined(spans: Iterable[Span]) -> list[Span]:
    """Non-empty spans in order, adjacent ones joined."""
    joined: list[Span] = []
    for start, end in sorted(span for span in spans if span[0] < span[1]):
        if joined and joined[-1][1] == start:
            joined[-1] = (joined[-1][0], end)
        else:
            joined.append((start, end))
    return joined
