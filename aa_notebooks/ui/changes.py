"""How a KPI moved against the previous window of the same length, in words for a card.

Both numbers come from the analytics layer (`overview` of the window and of `window.previous()`);
this only phrases their difference.
"""

from __future__ import annotations

from decimal import Decimal

Number = int | float | Decimal | None


def relative(current: Number, previous: Number, label: str) -> str:
    """ "▲ 25.0% vs previous 7d"; a previous zero or unknown says so instead of dividing."""
    if current is None or previous is None:
        return "–" if previous is not None else f"no data in previous {label}"
    if previous == 0:
        return f"= 0 in previous {label}" if current == 0 else f"▲ from 0 in previous {label}"
    change = round((float(current) - float(previous)) / float(previous) * 100, 1)
    return f"{_arrow(change)} {abs(change):.1f}% vs previous {label}"


def points(current: float | None, previous: float | None, label: str) -> str:
    """Change of a percentage in percentage points: "▼ 2.5 pp vs previous 7d"."""
    if current is None or previous is None:
        return f"no data in previous {label}" if previous is None else "–"
    change = round(current - previous, 1)  # the arrow agrees with the digits shown
    return f"{_arrow(change)} {abs(change):.1f} pp vs previous {label}"


def absolute(current: int, previous: int, label: str) -> str:
    """Change of a count: "▲ 2 vs previous 7d"."""
    change = current - previous
    return f"{_arrow(change)} {abs(change):,} vs previous {label}"


def _arrow(change: float) -> str:
    return "▲" if change > 0 else "▼" if change < 0 else "="
