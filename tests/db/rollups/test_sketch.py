"""The latency sketch: merging stored sketches gives the counts of all their values, and its
quantiles stay within the stated bound of numpy's."""

from __future__ import annotations

import math
import random
from collections import Counter

import numpy as np
import pytest

from aa_notebooks.db.rollups.sketch import (
    RELATIVE_ACCURACY,
    Sketch,
    group_quantiles,
    key_of,
    value_of,
)
from aa_notebooks.errors import StoredValueError


def _stored(values: list[float]) -> bytes:
    return Sketch.of(values).encode()


def test_a_merge_counts_every_value_once() -> None:
    rng = random.Random(40)
    values = [round(rng.lognormvariate(6, 1.5)) for _ in range(3_000)]
    blobs = [_stored(values[i::40]) for i in range(40)]
    assert Sketch.decode(blobs).counts == Counter(key_of(v) for v in values)


def test_taken_out_values_leave_the_merge() -> None:
    """A negative count (an execution deleted behind the rollups) cancels its value; a bucket
    left at 0 is dropped."""
    taken = Sketch()
    taken.add_key(key_of(250), -1)
    merged = Sketch.decode([_stored([100, 250, 250, 0]), taken.encode(), b"", None])
    assert merged.counts == {key_of(100): 1, key_of(250): 1, key_of(0): 1}


def test_a_truncated_sketch_is_refused() -> None:
    with pytest.raises(StoredValueError, match=r"truncated .* rollups rebuild"):
        Sketch.decode([_stored([5, 6])[:-3]])


@pytest.mark.parametrize("fraction", [0.0, 0.5, 0.95, 0.99, 1.0])
def test_quantiles_are_within_the_bound_of_numpy(fraction: float) -> None:
    rng = random.Random(7)
    values = [rng.uniform(1, 60_000) for _ in range(2_001)]
    found = Sketch.of(values).quantile(fraction)
    exact = float(np.percentile(values, fraction * 100))  # linear, as percentile_cont
    assert found is not None and abs(found - exact) <= RELATIVE_ACCURACY * exact


def test_quantiles_of_tiny_sketches() -> None:
    assert Sketch().quantile(0.95) is None
    one = Sketch.of([400]).quantile(0.95)
    assert one is not None and abs(one - 400) <= RELATIVE_ACCURACY * 400
    # two values: P50 halfway between their buckets' values, each within 1% of 100 and 300
    half = Sketch.of([100, 300]).quantile(0.5)
    assert half is not None and 0.99 * 200 <= half <= 1.01 * 200


def _two_pass_quantile(counts: dict[int, int], fraction: float) -> float:
    """The quantile as first written: each order statistic found by its own sorted walk."""

    def statistic(rank: int) -> float:
        seen = 0
        for key in sorted(counts):
            seen += counts[key]
            if seen > rank:
                return value_of(key)
        return value_of(max(counts))

    position = fraction * (sum(counts.values()) - 1)
    low, high = statistic(math.floor(position)), statistic(math.ceil(position))
    return low + (high - low) * (position - math.floor(position))


@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.5, 0.95, 1.0])
def test_one_pass_quantiles_match_two_passes_with_taken_out_counts(fraction: float) -> None:
    """Counts taken out (negative) before or past the rank, as a rollup corrected behind a
    delete can hold, give the same quantile the two-walk version gave."""
    for counts in ({10: 3, 20: -1, 30: 2}, {10: 1, 20: 2, 30: -1}, {5: -2, 40: 4, 90: 1}):
        assert Sketch(dict(counts)).quantile(fraction) == _two_pass_quantile(counts, fraction)


def _one_by_one(blobs: list[bytes], added: list[int], fraction: float) -> float | None:
    """A group's quantile through the single-sketch path: decode, add keys, read."""
    sketch = Sketch.decode(blobs)
    for key in added:
        sketch.add_key(key)
    return sketch.quantile(fraction)


def test_group_quantiles_equal_each_group_merged_on_its_own() -> None:
    """Many groups at once (stored sketches, raw keys added, zeros, an empty group, one with
    values taken out past those put in) give exactly what each group's own merge gives."""
    rng = random.Random(11)
    stored: dict[str, list[bytes]] = {}
    added: dict[str, list[int]] = {}
    for group in range(300):
        values = [round(rng.lognormvariate(5 + group % 4, 1.2)) for _ in range(rng.randint(1, 90))]
        values += [0] * (group % 3)
        stored[f"g{group}"] = [_stored(values[i::3]) for i in range(3)]
        added[f"g{group}"] = [key_of(rng.uniform(1, 5_000)) for _ in range(group % 5)]
    taken = Sketch()
    taken.add_key(key_of(30), -2)
    stored["taken"] = [_stored([30, 500]), taken.encode()]
    stored["empty"] = [b"", _stored([])]
    added["only raw"] = [key_of(12), key_of(700)]
    fractions = (0.0, 0.5, 0.95, 0.99, 1.0)
    found = group_quantiles(stored, added, fractions)
    assert set(found) == set(stored) | set(added)
    for group, values in found.items():
        blobs, keys = stored.get(group, []), added.get(group, [])
        assert values == tuple(_one_by_one(blobs, keys, f) for f in fractions), group
    assert found["empty"] == (None,) * len(fractions)


def test_group_quantiles_hold_the_bound_of_numpy() -> None:
    rng = random.Random(3)
    groups = {day: [rng.uniform(1, 90_000) for _ in range(1_001)] for day in range(20)}
    found = group_quantiles(
        {day: [_stored(values[:500]), _stored(values[500:])] for day, values in groups.items()},
        {},
        (0.5, 0.95),
    )
    for day, values in groups.items():
        for fraction, value in zip((0.5, 0.95), found[day], strict=True):
            exact = float(np.percentile(values, fraction * 100))
            assert value is not None and abs(value - exact) <= RELATIVE_ACCURACY * exact


def test_group_quantiles_in_chunks_equal_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Groups beyond the dense array's size are taken in chunks, with the same results."""
    rng = random.Random(5)
    stored = {g: [_stored([rng.uniform(1, 9_000) for _ in range(40)])] for g in range(50)}
    whole = group_quantiles(stored, {}, (0.95,))
    monkeypatch.setattr("aa_notebooks.db.rollups.sketch.DENSE_CELLS", 700)
    assert group_quantiles(stored, {}, (0.95,)) == whole


def test_group_quantiles_refuse_a_truncated_sketch() -> None:
    with pytest.raises(StoredValueError, match=r"truncated .* rollups rebuild"):
        group_quantiles({"a": [_stored([5, 6])[:-3], _stored([7])[:3]]}, {}, (0.5,))
