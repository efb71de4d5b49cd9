"""Human-readable values: dollars, durations, percentages and local timestamps.

Results keep raw numbers (so `df.cost_usd.sum()` works); these functions only shape what is
shown, by column name, in terminal tables and notebook display.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from numbers import Number
from zoneinfo import ZoneInfo

import pandas as pd

CENT = Decimal("0.01")


def money(value: object) -> str:
    """$1,234.56, -$9.99; amounts under a cent keep enough digits to be seen ($0.0042)."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    amount = Decimal(str(value))
    if not amount.is_finite():  # NaN, which PostgreSQL's NUMERIC holds, or an ad hoc infinity
        return str(value)
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if amount != 0 and amount < Decimal("0.01"):
        return f"{sign}${amount.normalize():f}"
    return f"{sign}${amount.quantize(CENT, ROUND_HALF_UP):,.2f}"  # half a cent up, as invoices


def duration_ms(value: object) -> str:
    """850 ms below a second, 2.41 s below a minute, 3m 05s below an hour, 5h 07m below a
    day, 3d 04h above (a run stuck for weeks reads as such, not as 35791m 24s)."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    ms = float(value)  # type: ignore[arg-type]  # a number (or numeric text) from a frame
    if not math.isfinite(ms):
        return str(value)
    if ms < 1000:
        return f"{ms:,.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f} s"
    minutes, seconds = divmod(round(ms / 1000), 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(round(ms / 60_000), 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(round(ms / 3_600_000), 24)
    return f"{days:,}d {hours:02d}h"


def percent(value: object) -> str:
    """97.5% (values are already percentages, 0-100)."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return f"{float(value):.1f}%"  # type: ignore[arg-type]  # a number (or numeric text)


def coverage_percent(value: float) -> str:
    """A share of a whole (0-100) as "97.3%"; a share short of the whole (99.96) reads 99.9%,
    never all of it (100.0%)."""
    return f"{99.9 if 99.9 < value < 100 else value:.1f}%"


def count(value: object) -> str:
    """12,345."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float | Decimal) and not math.isfinite(value):  # an ad hoc Infinity
        return str(value)
    # typeshed's numbers.Number declares no __int__, though every Number here has one
    return f"{int(value):,}" if isinstance(value, Number) else str(value)  # type: ignore[call-overload]


def timestamp(value: object, timezone: str = "UTC") -> str:
    """2026-11-25 14:03:07 UTC, in the given time zone."""
    if value is None or value is pd.NaT:
        return ""
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    stamp = stamp.tz_convert(ZoneInfo(timezone))
    return f"{stamp:%Y-%m-%d %H:%M:%S} {stamp.tzname()}"


def utc_day(value: object) -> str:
    """2026-11-25: the UTC day a day bucket stands for (in another time zone its midnight would
    read as 16:00 the day before)."""
    if value is None or value is pd.NaT:
        return ""
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return f"{stamp:%Y-%m-%d}"


BUCKET_SIZE = "bucket"
"""The `attrs` key of a frame of buckets: "hour" or "day". Its bucket column then reads as times
or as UTC days; without it, a bucket column of whole UTC days reads as days."""


def _formatter_for(
    column: str, series: pd.Series, timezone: str, bucket_size: str | None = None
) -> Callable[[object], str] | None:
    name = column.lower()
    if pd.api.types.is_datetime64_any_dtype(series):
        if name == "day" or (name == "bucket" and _daily(series, bucket_size)):
            return utc_day
        return lambda v: timestamp(v, timezone)
    if not pd.api.types.is_numeric_dtype(series) and series.map(type).eq(Decimal).sum() == 0:
        return None
    if name.endswith(("rate", "share", "percent", "_pct")) or name.startswith("percent"):
        # before money: cost_share is a percentage
        return percent
    if "usd" in name or name.startswith("cost"):
        return money
    if name.endswith("_ms"):
        return duration_ms
    if "tokens" in name or name in ("executions", "count", "total"):
        return count
    if name in _STEP_NUMBERS:
        return whole_number
    return None


_STEP_NUMBERS = frozenset({"step_number", "parent_step", "depth"})
"""Integer columns that pandas holds as floats once one row has none (a top step's parent)."""


def whole_number(value: object) -> str:
    """2.0 as 2; a value that is not whole (an ad hoc average) as it is; missing as nothing."""
    if _missing(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _daily(series: pd.Series, bucket_size: str | None) -> bool:
    """Whether a bucket column holds days: its frame says so, or (unsaid) its times are all
    UTC midnights; an hourly series whose only bucket is a midnight stays hourly."""
    return bucket_size == "day" if bucket_size is not None else _whole_utc_days(series)


def _whole_utc_days(series: pd.Series) -> bool:
    """Whether every time in `series` is a UTC midnight (the buckets of a daily series)."""
    present = series.dropna()
    if present.empty:
        return False
    moments = (
        present.dt.tz_localize("UTC") if present.dt.tz is None else present.dt.tz_convert("UTC")
    )
    return bool((moments == moments.dt.normalize()).all())


CELL_CHARACTERS = 200
"""The most characters a table cell shows (a 6,000-character agent name made tables a hundred
thousand pixels wide); the data keeps the whole text."""


def readable_frame(frame: pd.DataFrame, timezone: str = "UTC", *, cut: bool = True) -> pd.DataFrame:
    """A copy of `frame` with money, durations, rates, counts and timestamps as readable text,
    and (unless not `cut`: one record's facts) text cut to CELL_CHARACTERS."""
    bucket_size = frame.attrs.get(BUCKET_SIZE)
    columns = {}  # by position: an ad hoc query may name two columns alike
    for position, column in enumerate(frame.columns):
        values = frame.iloc[:, position]
        formatter = _formatter_for(str(column), values, timezone, bucket_size)
        if formatter is not None:
            values = values.map(formatter)
        elif not pd.api.types.is_numeric_dtype(values):  # text: missing shows as nothing
            values = values.map(lambda v: "" if _missing(v) else _cut(v) if cut else v)
        columns[position] = values
    shown = pd.DataFrame(columns, index=frame.index)
    shown.columns = frame.columns
    shown.attrs = dict(frame.attrs)
    return shown


def _cut(value: object) -> object:
    if isinstance(value, str) and len(value) > CELL_CHARACTERS:
        return value[: CELL_CHARACTERS - 1] + "…"
    return value


def _missing(value: object) -> bool:
    """None, NaN or pd.NA (not an empty container, which pd.isna would map element-wise)."""
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def metric_value(metric: str, value: object) -> str:
    """A value of an anomaly metric as people read it: "cost_usd" as money, "p95_ms" as a
    duration, "failure_rate" as a percentage."""
    if metric == "cost_usd":
        return money(value)
    if metric == "p95_ms":
        return duration_ms(value)
    return percent(value)


def robust_z(z: float) -> str:
    """A robust z with its sign, one decimal; infinite (against a perfectly flat past) as ±∞."""
    if math.isinf(z):
        return "+∞" if z > 0 else "−∞"
    return f"{z:+.1f}"
