"""The rolling window a budget counts: [now - period_days, now], both ends included."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aa_notebooks.validation import as_utc

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class SpendWindow:
    """The spend window of a budget at one moment; an execution counts when start <= started_at
    <= end."""

    start: datetime
    end: datetime

    @classmethod
    def ending(cls, now: datetime, period_days: int) -> SpendWindow:
        """The window of `period_days` that ends at `now`."""
        return cls(now - timedelta(days=period_days), now)


def utc(moment: datetime | None) -> datetime:
    """`moment` as an aware UTC datetime (naive means UTC); the current time when None."""
    return datetime.now(UTC) if moment is None else as_utc(moment)


def floor_hour(moment: datetime) -> datetime:
    """The start of the hour `moment` is in."""
    return moment.replace(minute=0, second=0, microsecond=0)


def ceil_hour(moment: datetime) -> datetime:
    """The first whole hour at or after `moment`."""
    floor = floor_hour(moment)
    return floor if floor == moment else floor + HOUR
