"""When executions start: busier on recent days, on weekdays and in working hours (UTC).

The density is piecewise constant per hour; `offset_ms` is its inverse CDF, so feeding it sorted
quantiles gives sorted start times with that density, one execution at a time, in any chunking.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from datetime import datetime, timedelta
from itertools import accumulate

HOUR_MS = 3_600_000
TREND = 2.0
"""The newest hour is 1 + TREND times as busy as the oldest, other things equal."""
WEEKEND = 0.45
HOUR_OF_DAY = (
    0.25, 0.2, 0.2, 0.2, 0.25, 0.35, 0.55, 0.8, 1.0, 1.15, 1.2, 1.15,
    1.0, 1.1, 1.2, 1.2, 1.1, 0.95, 0.75, 0.6, 0.5, 0.45, 0.35, 0.3,
)  # fmt: skip


class Timeline:
    """Start-time density over [origin, origin + span_ms), with a random busyness per day."""

    def __init__(self, rng: random.Random, origin: datetime, span_ms: int) -> None:
        self.origin = origin
        starts = list(range(0, span_ms, HOUR_MS))
        self._starts = starts
        self._widths = [min(HOUR_MS, span_ms - start) for start in starts]
        day_noise: dict[int, float] = {}
        weights = []
        for start, width in zip(starts, self._widths, strict=True):
            moment = origin + timedelta(milliseconds=start)
            day = start // (24 * HOUR_MS)
            noise = day_noise.setdefault(day, 0.75 + 0.5 * rng.random())
            weekday = WEEKEND if moment.weekday() >= 5 else 1.0
            trend = 1.0 + TREND * start / span_ms
            weights.append(noise * weekday * trend * HOUR_OF_DAY[moment.hour] * width)
        self._weights = weights
        self._cumulative = list(accumulate(weights))

    def offset_ms(self, quantile: float) -> int:
        """Milliseconds after `origin` at which the given quantile (0 <= q < 1) of starts falls."""
        target = quantile * self._cumulative[-1]
        index = min(bisect_right(self._cumulative, target), len(self._cumulative) - 1)
        before = self._cumulative[index] - self._weights[index]
        share = (target - before) / self._weights[index]
        return self._starts[index] + int(share * self._widths[index])
