"""Identifiers given by agent code or requests, turned into the UUIDs the schema stores."""

from __future__ import annotations

import hashlib
import random
import threading
import time
import uuid

from aa_notebooks.errors import InvalidInputError

SESSION_NAMESPACE = uuid.UUID("0b6c3f0e-5d55-4c55-9a1f-6f1ad3a1e7a1")
"""Namespace of the uuid5 that stands for a session id that is not a UUID."""
_MILLIS_MASK = (1 << 48) - 1
_COUNTER_MAX = 0xFFF
_VERSION_7 = 0x7 << 76
_VARIANT = 0b10 << 62
_RANDOM_MASK = (1 << 62) - 1
_lock = threading.Lock()
_last_millis = 0  # the millisecond and counter of the latest id made in this process
_counter = 0


def optional_uuid(value: uuid.UUID | str | None, what: str) -> uuid.UUID | None:
    """A UUID column (user_id, agent_id, request_id) from a UUID or its text; else an error."""
    if value is None or isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidInputError(
            f"{what} must be a UUID, got {value!r}; pass a UUID (or its text) or None"
        ) from None


def session_uuid(value: uuid.UUID | str | None) -> uuid.UUID:
    """A session id as a UUID: a UUID as it is, other text as a stable uuid5, None as a new one.

    Sessions only group executions, so any opaque session token groups the same way every time.
    """
    if value is None:
        return new_id()
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except ValueError:
        return name_uuid(SESSION_NAMESPACE, value)


def new_id() -> uuid.UUID:
    """A new time-ordered UUID (version 7, RFC 9562) for a row the tracker creates.

    Ids grow with time, and strictly within this process (a 12-bit counter orders ids made in
    the same millisecond, RFC 9562 method 1), so they sort in creation order and land at the
    right edge of the primary-key indexes, which keeps bulk inserts fast; 62 random bits keep
    them unique across processes. They come from `random` (reseeded after a fork), as the
    kernel's `getrandom` can take tens of microseconds per call on a busy machine. A run makes
    one per step and usage, so the UUID is built as `uuid.UUID.__init__` builds one, without its
    argument parsing and checks (the value is in range by construction).
    """
    return uuid_of(_new_id_value())


def new_id_values(count: int) -> range:
    """The 128-bit values of `count` new ids in one go, for the rows of a batch: what `count`
    calls of `new_id()` would give, but one millisecond and counter for all, their 62 random
    bits consecutive from a random start. Made for the writer, which gives every step and usage
    of a batch an id as it makes the row's tuple (hex for SQLite, a UUID for COPY). They stay
    unique (another id of the same millisecond and counter, from another process, falls in the
    range with odds of `count` in 2**62) and grow strictly, within the batch and after it."""
    first = _new_id_value()
    if first & _RANDOM_MASK > _RANDOM_MASK - count:  # keep the run inside the random bits
        first -= count
    return range(first, first + count)


def _new_id_value() -> int:
    """The 128-bit value of the next `new_id()`."""
    global _last_millis, _counter
    now = time.time_ns() // 1_000_000
    with _lock:
        if now > _last_millis:
            _last_millis, _counter = now, 0
        elif _counter < _COUNTER_MAX:
            _counter += 1
        else:  # 4096 ids in one millisecond: borrow the next one
            _last_millis, _counter = _last_millis + 1, 0
        millis, counter = _last_millis, _counter
    return (
        (millis & _MILLIS_MASK) << 80 | _VERSION_7 | counter << 64 | _VARIANT
        | random.getrandbits(62)
    )  # fmt: skip


def name_uuid(namespace: uuid.UUID, name: str) -> uuid.UUID:
    """`uuid.uuid5(namespace, name)`, built without `UUID.__init__`'s checks: the OTLP ingest
    derives a dozen ids per agent run from trace and span ids, and this is a third of the cost."""
    # surrogatepass: half an emoji (an exporter's string cut short) is a name too, not an error
    data = namespace.bytes + name.encode(errors="surrogatepass")
    digest = hashlib.sha1(data, usedforsecurity=False).digest()
    value = int.from_bytes(digest[:16], "big") & _NOT_VERSION_OR_VARIANT | _VERSION_5 | _VARIANT
    return uuid_of(value)


def uuid_of(value: int) -> uuid.UUID:
    """The UUID of a 128-bit value in range (one of `new_id_values`, say), as
    `uuid.UUID.__init__` builds it, less its checks."""
    made = _new_uuid(uuid.UUID)
    _set(made, "int", value)
    _set(made, "is_safe", uuid.SafeUUID.unknown)
    return made


_NOT_VERSION_OR_VARIANT = ~(0xF << 76 | 0b11 << 62) & ((1 << 128) - 1)
_VERSION_5 = 0x5 << 76
_new_uuid = object.__new__
_set = object.__setattr__  # UUID forbids setting attributes; its __init__ goes through this
