"""Analytics results as JSON: the shapes the HTTP API answers with.

Money: every field whose name ends in `_usd` is a JSON string holding the exact decimal
(`"0.006000"`), as floats cannot hold every NUMERIC(10,6) value and JavaScript numbers would
round sums; DataFrames carry money as floats, which are written with 6 places. Times are ISO
8601 in UTC, ids are UUID strings, and unknown values (NaN, NaT) are null.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

MONEY_SUFFIX = "_usd"
MICRO_USD = Decimal("0.000001")


def jsonable(value: Any, *, key: str = "") -> Any:
    """A value made of JSON types only (see the module docstring)."""
    if isinstance(value, pd.DataFrame):
        return records(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return {f.name: jsonable(getattr(value, f.name), key=f.name) for f in fields}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, key=str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset | np.ndarray):
        return [jsonable(item, key=key) for item in value]
    return _scalar(value, money=key.endswith(MONEY_SUFFIX))


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A DataFrame's rows as JSON objects keyed by column."""
    columns = [str(c) for c in frame.columns]
    return [
        {column: jsonable(cell, key=column) for column, cell in zip(columns, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]


def _scalar(value: Any, *, money: bool) -> Any:
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, Decimal):
        return str(value) if money else float(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        return str(Decimal(repr(value)).quantize(MICRO_USD)) if money else value
    if isinstance(value, pd.Timestamp | datetime | date):
        return value.isoformat()
    if isinstance(value, pd.Timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value
