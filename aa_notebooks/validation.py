"""Checks on counts given by agent code (tokens, durations, step numbers), with clear errors."""

from __future__ import annotations

import operator
from typing import Any

from aa_notebooks.errors import InvalidInputError


def non_negative_int(value: Any, what: str) -> int:
    """`value` as an int >= 0 (NumPy integers included); InvalidInputError naming `what` if not."""
    try:
        count = operator.index(value)
    except TypeError:
        raise InvalidInputError(f"{what} must be a whole number, got {value!r}") from None
    if count < 0:
        raise InvalidInputError(f"{what} must be zero or more, got {count}")
    return count
