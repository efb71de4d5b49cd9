"""Ids the tracker makes: UUIDs of version 7 that behave as any UUID, dated now, and strictly
increasing within the process."""

from __future__ import annotations

import copy
import itertools
import pickle
import time
import uuid

import pytest

from aa_notebooks.tracking import ids
from aa_notebooks.tracking.ids import name_uuid, new_id, new_id_values, uuid_of


def test_a_new_id_is_a_version_7_uuid_like_any_other() -> None:
    made = new_id()
    same = uuid.UUID(str(made))
    assert type(made) is uuid.UUID and made == same and hash(made) == hash(same)
    assert (made.version, made.variant) == (7, uuid.RFC_4122)
    assert made.is_safe is uuid.SafeUUID.unknown
    assert pickle.loads(pickle.dumps(made)) == made and copy.deepcopy(made) == made
    assert {made: 1}[same] == 1 and str(made) == str(same) and made.hex == same.hex


def test_ids_carry_the_time_they_were_made_and_grow_strictly() -> None:
    before = time.time_ns() // 1_000_000
    made = [new_id() for _ in range(10_000)]
    after = time.time_ns() // 1_000_000
    assert all(a < b for a, b in itertools.pairwise(made))
    assert before <= made[0].int >> 80 <= made[-1].int >> 80 <= after + 1  # +1: a borrowed ms
    assert len({one.int & ((1 << 62) - 1) for one in made}) == len(made)  # random bits differ


def test_a_batch_of_ids_are_new_ids_in_the_same_order() -> None:
    """The writer's ids for a batch's steps and usages: version 7, distinct, growing strictly
    from the id made before them to the one made after."""
    before = new_id()
    batch = [uuid_of(value) for value in new_id_values(5_000)]
    after = new_id()
    made = [before, *batch, after]
    assert all((one.version, one.variant) == (7, uuid.RFC_4122) for one in made)
    assert all(a < b for a, b in itertools.pairwise(made))
    assert len({one.int for one in made}) == len(made)


def test_a_batch_whose_random_start_is_near_the_top_stays_within_its_random_bits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run of ids never carries into the variant and counter bits."""
    monkeypatch.setattr(ids.random, "getrandbits", lambda bits: (1 << bits) - 1)
    batch = [uuid_of(value) for value in new_id_values(3)]
    assert [one.int & ((1 << 62) - 1) for one in batch] == [(1 << 62) - 4 + n for n in range(3)]
    assert len({(one.version, one.variant, one.int >> 64) for one in batch}) == 1


def test_a_name_uuid_is_the_standard_libraries_uuid5() -> None:
    """RFC 9562's worked example (the DNS namespace, www.example.com) and a few others."""
    assert name_uuid(uuid.NAMESPACE_DNS, "www.example.com") == uuid.UUID(
        "2ed6657d-e927-568b-95e1-2665a8aea6a2"
    )
    namespace = uuid.UUID("5d2c1a4e-8f63-4b7a-9c1e-0a7f3e9b6d21")
    for name in ("", "0af7651916cd43dd8448eb211c80319c/b7ad6b7169203331", "é∂/usage" * 50):
        made = name_uuid(namespace, name)
        expected = uuid.uuid5(namespace, name)
        assert (made, str(made), hash(made), made.version) == (expected, str(expected),
                                                               hash(expected), 5)  # fmt: skip
        assert pickle.loads(pickle.dumps(made)) == expected and copy.copy(made) == expected
