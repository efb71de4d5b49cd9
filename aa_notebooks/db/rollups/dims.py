"""The rollups' keys: the hour and day an execution started in, and a digest of its dimensions.

A rollup row is keyed by (bucket, dims_key): the dimensions may be NULL, which neither database
lets a unique key compare as equal, so their digest stands for them. Every writer (the write
paths, `rebuild`) computes it here, from the same values, and gets the same key.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

EXECUTION_DIMS = ("user_id", "agent_id", "agent_name", "model_name", "status", "flow_id")
USAGE_DIMS = ("user_id", "row_model", "execution_model")
_NULL = "\x00"
_SEPARATOR = "\x1f"


def utc_naive(moment: datetime | str) -> datetime:
    """A timestamp as the columns hold it: naive UTC (storage text is parsed)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def hour_of(moment: datetime) -> datetime:
    """The start of the (naive UTC) hour."""
    return moment.replace(minute=0, second=0, microsecond=0)


def day_of(moment: datetime) -> datetime:
    """The start of the (naive UTC) day."""
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _text(value: Any) -> str:
    if value is None:
        return _NULL
    if isinstance(value, uuid.UUID):
        return value.hex
    return str(getattr(value, "value", value))


@lru_cache(maxsize=65_536)
def dims_key(dims: tuple[Any, ...]) -> str:
    """The digest of a tuple of dimension values (UUIDs, text, enums or None)."""
    text = _SEPARATOR.join(_text(value) for value in dims)
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def as_uuid(value: Any) -> uuid.UUID | None:
    """A UUID column's value from either database (a UUID, or its hex text on SQLite)."""
    if value is None or isinstance(value, uuid.UUID):
        return value
    return uuid.UUID(str(value))
