"""Ids the tracker makes: UUIDs of version 7 that behave as any UUID, dated now, and strictly
increasing within the process."""

from __future__ import annotations

import copy
import itertools
import pickle
import time
import uuid

from aa_notebooks.tracking.ids import new_id


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
