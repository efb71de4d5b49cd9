"""The wal-index commit counter: read from hand-made `-shm` headers (the layout SQLite documents)
and from real databases, where it moves with every commit of any connection and nothing else."""

from __future__ import annotations

import sqlite3
import struct
from pathlib import Path

import pytest

from aa_notebooks.db.wal_index import CommitCounter

COPY = 48


def _header(version: int, change: int, initialised: int) -> bytes:
    """One 48-byte copy of a wal-index header: iVersion, unused, iChange, isInit, the rest 0."""
    return struct.pack("=IIIB", version, 0, change, initialised).ljust(COPY, b"\0")


def _shm(tmp_path: Path, first: bytes, second: bytes) -> str:
    database = tmp_path / "made.db"
    (tmp_path / "made.db-shm").write_bytes(first + second + bytes(32768 - 2 * COPY))
    return str(database)


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        (_header(3007000, 41, 1), _header(3007000, 41, 1), 41),
        (_header(3007000, 42, 1), _header(3007000, 41, 1), None),  # a writer between copies
        (_header(3007001, 41, 1), _header(3007001, 41, 1), None),  # a version it does not know
        (_header(3007000, 41, 0), _header(3007000, 41, 0), None),  # not initialised
    ],
)
def test_the_counter_of_a_made_header(
    tmp_path: Path, first: bytes, second: bytes, expected: int | None
) -> None:
    counter = CommitCounter(_shm(tmp_path, first, second))
    assert counter.value() == expected
    counter.close()
    assert counter.value() is None


def test_no_shm_file_or_a_short_one_gives_none(tmp_path: Path) -> None:
    assert CommitCounter(str(tmp_path / "missing.db")).value() is None
    (tmp_path / "short.db-shm").write_bytes(_header(3007000, 1, 1))
    assert CommitCounter(str(tmp_path / "short.db")).value() is None


def test_it_moves_with_each_commit_of_another_connection_only(tmp_path: Path) -> None:
    path = tmp_path / "real.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE t (x INTEGER)")
    reader = sqlite3.connect(path, isolation_level=None)
    counter = CommitCounter.of_connection(reader)
    assert counter is not None
    start = counter.value()
    assert start is not None
    writer.execute("INSERT INTO t VALUES (1)")
    assert counter.value() == start + 1
    reader.execute("SELECT * FROM t").fetchall()
    writer.execute("BEGIN")
    writer.execute("INSERT INTO t VALUES (2)")
    writer.execute("INSERT INTO t VALUES (3)")
    assert counter.value() == start + 1  # nothing committed yet
    writer.execute("COMMIT")
    assert counter.value() == start + 2
    writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    writer.execute("INSERT INTO t VALUES (4)")
    assert counter.value() == start + 3
    counter.close()
    reader.close()
    writer.close()


def test_no_counter_outside_wal_mode(tmp_path: Path) -> None:
    rollback = sqlite3.connect(tmp_path / "rollback.db", isolation_level=None)
    rollback.execute("CREATE TABLE t (x INTEGER)")
    assert CommitCounter.of_connection(rollback) is None
    assert CommitCounter.of_connection(sqlite3.connect(":memory:")) is None
