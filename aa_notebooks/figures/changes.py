"""How a KPI moved against the previous window of the same length, in words for a card.

Both numbers come from the analytics layer (`overview` of the window and of `window.previous()`);
this only phrases their difference, naming the previous window: "previous 7d" after a period,
its own dates after a date range ("vs 2025-12-01 to 2025-12-31").
"""

from __future__ import annotations

from datetime import time, timedelta
from decimal import Decimal

from aa_notebooks.analytics import Window
from aa_notebooks.analytics.periods import parse_period
from aa_notebooks.errors import InvalidInputError

Number = int | float | Decimal | None
_LAST_MOMENT = timedelta(microseconds=1)


def previous_name(window: Window) -> str:
    """The window before `window`, for people: "previous 7d", or its dates (UTC)."""
    try:
        parse_period(window.label)
        return f"previous {window.label}"
    except InvalidInputError:
        pass
    before = window.previous()
    if before.start.time() == time() and before.end.time() == time():
        return f"{before.start:%Y-%m-%d} to {before.end - _LAST_MOMENT:%Y-%m-%d}"
    return f"{before.start:%Y-%m-%d %H:%M} to {before.end:%Y-%m-%d %H:%M} UTC"


def relative(current: Number, previous: Number, window: Window) -> str:
    """ "▲ 25.0% vs previous 7d"; a previous zero or unknown says so instead of dividing."""
    name = previous_name(window)
    if current is None or previous is None:
        return "–" if previous is not None else f"no data in {name}"
    if previous == 0:
        return f"= 0 in {name}" if current == 0 else f"▲ from 0 in {name}"
    change = round((float(current) - float(previous)) / float(previous) * 100, 1)
    return f"{_arrow(change)} {abs(change):.1f}% vs {name}"


def points(current: float | None, previous: float | None, window: Window) -> str:
    """Change of a percentage in percentage points: "▼ 2.5 pp vs previous 7d"."""
    if current is None or previous is None:
        return f"no data in {previous_name(window)}" if previous is None else "–"
    change = round(current - previous, 1)  # the arrow agrees with the digits shown
    return f"{_arrow(change)} {abs(change):.1f} pp vs {previous_name(window)}"


def absolute(current: int, previous: int, window: Window) -> str:
    """Change of a count: "▲ 2 vs previous 7d"."""
    change = current - previous
    return f"{_arrow(change)} {abs(change):,} vs {previous_name(window)}"


def _arrow(change: float) -> str:
    return "▲" if change > 0 else "▼" if change < 0 else "="
