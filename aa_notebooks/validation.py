"""Checks on values given by agent code and users (counts, time zones, text), with clear errors."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aa_notebooks.errors import InvalidInputError


def non_negative_int(value: Any, what: str) -> int:
    """`value` as an int >= 0 (NumPy integers included); InvalidInputError naming `what` if not
    (a bool too: True is a count of 1 to Python, and a mistake here)."""
    if isinstance(value, bool):
        raise InvalidInputError(f"{what} must be a whole number, got {value!r}")
    try:
        count = operator.index(value)
    except TypeError:
        raise InvalidInputError(f"{what} must be a whole number, got {value!r}") from None
    if count < 0:
        raise InvalidInputError(f"{what} must be zero or more, got {count}")
    return count


def check_timezone(name: str) -> str:
    """`name` when it is an IANA time zone (UTC, Europe/Paris); InvalidInputError if not."""
    try:
        ZoneInfo(name)
    except (KeyError, ValueError, TypeError, OSError):  # ZoneInfoNotFoundError is a KeyError
        raise InvalidInputError(
            f"unknown time zone {name!r}: give an IANA name such as UTC or Europe/Paris"
        ) from None
    return name


def check_text(value: str, what: str) -> str:
    """`value` when it is text without NUL characters, which PostgreSQL can neither store nor
    compare (a query with one fails there and matches nothing on SQLite); InvalidInputError
    naming `what` if not."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be text, got {value!r}")
    if "\x00" in value:
        raise InvalidInputError(f"{what} must not contain NUL (\\x00) characters; got {value!r}")
    return value


def as_utc(moment: datetime) -> datetime:
    """`moment` as an aware UTC datetime: naive means UTC (what the columns hold), aware is
    converted. Compare and add to times in UTC: in a zone with summer time, Python compares and
    adds wall-clock times and ignores `fold`, an hour off across the change."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01 00:30+01:00 is before the first UTC time a datetime holds
        raise InvalidInputError(
            f"{moment.isoformat()} is outside the times a datetime holds in UTC (years 1 to 9999)"
        ) from None


def utc_now() -> datetime:
    """The real clock, aware UTC: the default `now` of the clients."""
    return datetime.now(UTC)


def clock_reading(clock: Callable[[], datetime]) -> datetime:
    """What an injected `now` clock says, as aware UTC; a naive answer is an error, since it
    would be guessed as local or UTC differently in different places."""
    moment = clock()
    if moment.tzinfo is None:
        raise InvalidInputError("the `now` clock must return an aware datetime (UTC)")
    return moment.astimezone(UTC)


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable_text(value: str) -> str:
    """`value` as both databases can store it: NUL characters (PostgreSQL refuses them) left
    out, and UTF-16 surrogates that make no pair (half an emoji, from an exporter that cut a
    string in the middle of one; UTF-8 cannot encode them) replaced by U+FFFD. Anything else is
    returned as it is, at the cost of one search."""
    if _UNSTORABLE.search(value) is None:
        return value
    value = value.replace("\x00", "")
    return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def unstorable(value: Any) -> bool:
    """Whether `value` is text that `storable_text` would change."""
    return isinstance(value, str) and _UNSTORABLE.search(value) is not None
