"""A mergeable latency sketch: DDSketch's logarithmic buckets with 1% relative accuracy.

A duration x > 0 falls in bucket k = ceil(ln x / ln gamma), gamma = (1 + a) / (1 - a), a = 0.01
(the `ddsketch` package's `LogarithmicMapping`); 0 has a bucket of its own. Every value in a
bucket is within a of the bucket's representative value, so a quantile read from the counts is
within 1% of the order statistic it stands for. `quantile` interpolates between the two order
statistics around the rank as PostgreSQL's `percentile_cont` does; a convex combination of two
values each within 1% is within 1% of the exact interpolation, so every percentile is within
`RELATIVE_ACCURACY` of the exact one, whatever the data.

Stored form: (bucket, count) pairs as big-endian int32 pairs in a BLOB. Concatenating two stored
sketches merges them (a key may repeat; counts add when read), which lets an upsert merge in SQL
(`||`) without reading the row first, and a negative count takes values out again.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from ddsketch import LogarithmicMapping

RELATIVE_ACCURACY = 0.01
MAPPING = LogarithmicMapping(RELATIVE_ACCURACY)
KEY_MULTIPLIER = 1 / math.log(MAPPING.gamma)
"""ln x times this, rounded up, is x's bucket; SQL computes it with the same double."""
ZERO_KEY = -(2**31)
"""The bucket of 0 (and of values too small for a bucket of their own)."""
PAIR = np.dtype([("key", ">i4"), ("count", ">i4")])
COMPACT_BYTES = 4096
"""A stored sketch longer than this is rewritten with one pair per bucket (`compact`)."""


def key_of(value: float) -> int:
    """The bucket of a duration (>= 0)."""
    if value <= 0:
        return ZERO_KEY
    return math.ceil(math.log(value) * KEY_MULTIPLIER)


def value_of(key: int) -> float:
    """The representative value of a bucket: within RELATIVE_ACCURACY of everything in it."""
    return 0.0 if key == ZERO_KEY else float(MAPPING.value(key))


def encode(counts: dict[int, int]) -> bytes:
    """Counts per bucket in stored form, buckets in order, empty buckets left out."""
    pairs = sorted((key, count) for key, count in counts.items() if count)
    return np.array(pairs, dtype=PAIR).tobytes() if pairs else b""


@dataclass
class Sketch:
    """Counts per bucket; merge by adding."""

    counts: dict[int, int] = field(default_factory=dict)

    @classmethod
    def of(cls, values: Iterable[float | None]) -> Sketch:
        """The sketch of some durations (None is left out, as SQL aggregates leave out NULL)."""
        sketch = cls()
        for value in values:
            if value is not None:
                sketch.add_key(key_of(value))
        return sketch

    @classmethod
    def decode(cls, blobs: Iterable[bytes | None]) -> Sketch:
        """The merge of stored sketches (concatenated, then counted once)."""
        data = b"".join(bytes(blob) for blob in blobs if blob)
        if len(data) % PAIR.itemsize:
            raise ValueError("a stored latency sketch is truncated")
        pairs = np.frombuffer(data, dtype=PAIR)
        keys, where = np.unique(pairs["key"], return_inverse=True)
        sums = np.bincount(where, weights=pairs["count"], minlength=len(keys)).astype(np.int64)
        kept = sums != 0
        return cls(dict(zip(keys[kept].tolist(), sums[kept].tolist(), strict=True)))

    def add_key(self, key: int, count: int = 1) -> None:
        """Count `count` more values in bucket `key` (negative: take them out)."""
        self.counts[key] = self.counts.get(key, 0) + count

    def merge(self, other: Sketch) -> None:
        """Add another sketch's counts to this one."""
        for key, count in other.counts.items():
            self.add_key(key, count)

    def encode(self) -> bytes:
        """This sketch in stored form."""
        return encode(self.counts)

    @property
    def count(self) -> int:
        """How many values the sketch holds."""
        return sum(self.counts.values())

    def quantile(self, fraction: float) -> float | None:
        """The `fraction` quantile, interpolated as `percentile_cont`; None when empty."""
        total = self.count
        if total <= 0:
            return None
        position = fraction * (total - 1)
        lower, upper = math.floor(position), math.ceil(position)
        low = high = None
        seen = 0
        for key in sorted(self.counts):  # one pass finds both order statistics
            seen += self.counts[key]
            if low is None and seen > lower:
                low = value_of(key)
            if seen > upper:
                high = value_of(key)
                break
        if high is None:  # counts taken out past what was put in: the largest bucket
            high = value_of(max(self.counts))
        low = high if low is None else low
        return low + (high - low) * (position - lower)
