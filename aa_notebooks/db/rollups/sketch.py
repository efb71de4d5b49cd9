"""A mergeable latency sketch: DDSketch's logarithmic buckets with 1% relative accuracy.

A duration x > 0 falls in bucket k = ceil(ln x / ln gamma), gamma = (1 + a) / (1 - a), a = 0.01
(the `ddsketch` package's `LogarithmicMapping`); 0 has a bucket of its own. Every value in a
bucket is within a of the bucket's representative value, so a quantile read from the counts is
within 1% of the order statistic it stands for. `quantile` interpolates between the two order
statistics around the rank as PostgreSQL's `percentile_cont` does; a convex combination of two
values each within 1% is within 1% of the exact interpolation, so every percentile is within
`RELATIVE_ACCURACY` of the exact one, for any durations of 0 and above. A negative duration
(never recorded by the kit; another program's clock skew) counts in the zero bucket, as 0: where
such rows matter, `exact=True` reads them as stored.

Stored form: (bucket, count) pairs as big-endian int32 pairs in a BLOB. Concatenating two stored
sketches merges them (a key may repeat; counts add when read), which lets an upsert merge in SQL
(`||`) without reading the row first, and a negative count takes values out again.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
from ddsketch import LogarithmicMapping

from aa_notebooks.errors import StoredValueError

RELATIVE_ACCURACY = 0.01
MAPPING = LogarithmicMapping(RELATIVE_ACCURACY)
KEY_MULTIPLIER = 1 / math.log(MAPPING.gamma)
"""ln x times this, rounded up, is x's bucket; SQL computes it with the same double."""
ZERO_KEY = -(2**31)
"""The bucket of 0 (and of values too small for a bucket of their own)."""
PAIR = np.dtype([("key", ">i4"), ("count", ">i4")])
COMPACT_BYTES = 4096
"""A stored sketch longer than this is rewritten with one pair per bucket (`compact`)."""
DENSE_CELLS = 4_000_000
"""Counts `group_quantiles` holds at once (groups x bucket range): 32 MB."""
Group = TypeVar("Group", bound=Hashable)


def key_of(value: float) -> int:
    """The bucket of a duration; a negative one is counted as 0 (see the module's docstring)."""
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
            raise _truncated()
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


@dataclass(frozen=True)
class Decoded:
    """Many stored sketches decoded at once: every (bucket key, count) pair they hold, with
    the index of the sketch it came from."""

    sketch: np.ndarray
    keys: np.ndarray
    counts: np.ndarray

    @classmethod
    def of(cls, blobs: Sequence[bytes | None]) -> Decoded:
        """The pairs of `blobs` (None or b"": a sketch without pairs); ValueError for a
        truncated one."""
        kept = [bytes(blob) if blob else b"" for blob in blobs]
        if any(len(blob) % PAIR.itemsize for blob in kept):
            raise _truncated()
        pairs = np.frombuffer(b"".join(kept), dtype=PAIR)
        lengths = np.fromiter((len(blob) for blob in kept), np.int64, len(kept)) // PAIR.itemsize
        sketch = np.repeat(np.arange(len(kept), dtype=np.int64), lengths)
        return cls(sketch, pairs["key"].astype(np.int64), pairs["count"].astype(np.int64))


def group_quantiles(
    stored: Mapping[Group, Sequence[bytes | None]],
    added: Mapping[Group, Sequence[int]],
    fractions: Sequence[float],
) -> dict[Group, tuple[float | None, ...]]:
    """Each group's `fractions` quantiles of its stored sketches merged with its `added` bucket
    keys: what `Sketch.decode` then `add_key` then `quantile` give, for many groups in one pass."""
    groups = list(dict.fromkeys([*stored, *added]))
    owners = [index for index, group in enumerate(groups) for _ in stored.get(group, ())]
    decoded = Decoded.of([blob for group in groups for blob in stored.get(group, ())])
    owner = np.asarray(owners, dtype=np.int64)[decoded.sketch]
    extra = [(index, key) for index, group in enumerate(groups) for key in added.get(group, ())]
    keys, counts = decoded.keys, decoded.counts
    if extra:
        more = np.array(extra, dtype=np.int64)
        owner = np.concatenate([owner, more[:, 0]])
        keys = np.concatenate([keys, more[:, 1]])
        counts = np.concatenate([counts, np.ones(len(extra), np.int64)])
    quantiles = owner_quantiles(owner, keys, counts, len(groups), fractions)
    return dict(zip(groups, quantiles, strict=True))


def owner_quantiles(
    owner: np.ndarray,
    keys: np.ndarray,
    counts: np.ndarray,
    groups: int,
    fractions: Sequence[float],
) -> list[tuple[float | None, ...]]:
    """The `fractions` quantiles of each of `groups` groups, from (bucket key, count) pairs and
    the group each belongs to (`owner`, 0 to groups - 1): `Sketch.quantile` of each group's
    pairs merged.

    Counts go into a dense (group, bucket) array, so a group costs a row of array arithmetic
    instead of a dict merge and a sort: the anomaly scan merges thousands of day sketches. A group
    left with a negative bucket (values taken out past those put in) is merged one by one."""
    if not len(keys):
        return [tuple(None for _ in fractions)] * groups
    zero = keys == ZERO_KEY
    lowest = int(keys[~zero].min()) if not zero.all() else 0
    slots = keys - (lowest - 1)  # the zero bucket in slot 0, then every key in order
    if zero.any():
        slots[zero] = 0
    width = int(slots.max()) + 1
    slot_values = _SlotValues(lowest)
    found: list[tuple[float | None, ...]] = []
    chunk = max(1, DENSE_CELLS // width)
    all_cells = owner * width + slots
    for first in range(0, groups, chunk):
        last = min(first + chunk, groups)
        cells, weights = all_cells, counts
        if first or last < groups:  # several chunks: this one's part
            inside = (owner >= first) & (owner < last)
            cells, weights = all_cells[inside] - first * width, counts[inside]
        dense = np.bincount(cells, weights=weights, minlength=(last - first) * width)
        table = dense.astype(np.int64).reshape(last - first, width)
        quantiles = _row_quantiles(table, fractions, slot_values)
        for row in np.flatnonzero((table < 0).any(axis=1)).tolist():  # rare: merge the dicts
            mine = owner == first + row
            sketch = Sketch()
            for key, count in zip(keys[mine].tolist(), counts[mine].tolist(), strict=True):
                sketch.add_key(key, count)
            sketch.counts = {key: count for key, count in sketch.counts.items() if count}
            quantiles[row] = tuple(sketch.quantile(fraction) for fraction in fractions)
        found += quantiles
    return found


class _SlotValues(dict[int, float]):
    """The representative value of each dense slot (0: the zero bucket), computed once."""

    def __init__(self, lowest: int) -> None:
        super().__init__()
        self.lowest = lowest

    def __missing__(self, slot: int) -> float:
        value = self[slot] = value_of(ZERO_KEY if slot == 0 else slot - 1 + self.lowest)
        return value


def _row_quantiles(
    table: np.ndarray, fractions: Sequence[float], slot_values: _SlotValues
) -> list[tuple[float | None, ...]]:
    """Each row's quantiles from its counts per slot (rows with a negative count are redone by
    the caller), interpolated as `Sketch.quantile` does."""
    seen = np.cumsum(table, axis=1)
    totals = seen[:, -1]
    columns = []
    for fraction in fractions:
        position = fraction * (totals - 1).astype(np.float64)
        lower, upper = np.floor(position), np.ceil(position)
        low = (seen > lower[:, None]).argmax(axis=1)
        high = (seen > upper[:, None]).argmax(axis=1)
        columns.append((position, lower, low, high))
    rows: list[tuple[float | None, ...]] = []
    for row, total in enumerate(totals.tolist()):
        if total <= 0:
            rows.append(tuple(None for _ in fractions))
            continue
        values: list[float | None] = []
        for position, lower, low, high in columns:
            low_value, high_value = slot_values[int(low[row])], slot_values[int(high[row])]
            share = float(position[row]) - float(lower[row])
            values.append(low_value + (high_value - low_value) * share)
        rows.append(tuple(values))
    return rows


def _truncated() -> StoredValueError:
    """A stored sketch whose length is not whole pairs: not the kit's writing."""
    return StoredValueError(
        "a stored latency sketch is truncated (a rollup row changed by hand?): "
        "`aa-notebooks rollups rebuild` recomputes the rollups from the raw rows"
    )
