"""The batch writer: batches (also of records that trickle in), idempotence, the spool in an
outage and its replay (also of a spool left by an earlier process), a torn spool line, and
records the database refuses."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine

from aa_notebooks.db.engine import get_engine
from aa_notebooks.tracking import writer as writer_module
from aa_notebooks.tracking.record import ExecutionRecord
from aa_notebooks.tracking.spool import REJECTED_FILE
from aa_notebooks.tracking.store import BatchResult
from aa_notebooks.tracking.writer import BatchWriter
from tests.tracking.conftest import counts, executions
from tests.tracking.test_store import make_record

Down = tuple[str, Callable[[], None]]


def segments(writer: BatchWriter) -> list[Path]:
    """The spool's segment files that hold records."""
    directory = writer.spool.directory
    found = directory.glob("segment-*.jsonl") if directory.exists() else []
    return [path for path in found if path.stat().st_size > 0]


def test_records_are_written_in_batches(
    db_url: str, spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes: list[int] = []

    def counting(engine: Engine, records: list[ExecutionRecord]) -> BatchResult:
        sizes.append(len(records))
        return original(engine, records)

    original = writer_module.write_batch
    monkeypatch.setattr(writer_module, "write_batch", counting)
    writer = BatchWriter(db_url, spool_dir=spool_dir, batch_size=500)
    try:
        for _ in range(3000):
            writer.submit(make_record())
        assert writer.flush(timeout=60)
    finally:
        writer.close()
    assert counts(db_url) == (3000, 6000, 3000)
    assert sum(sizes) == 3000 and max(sizes) <= 500 and len(sizes) <= 60


def test_records_that_trickle_in_share_a_transaction(
    db_url: str, spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records submitted one by one within `batch_wait_s` of the first go in one batch, and a
    flush ends the wait at once."""
    sizes: list[int] = []

    def counting(engine: Engine, records: list[ExecutionRecord]) -> BatchResult:
        sizes.append(len(records))
        return original(engine, records)

    original = writer_module.write_batch
    monkeypatch.setattr(writer_module, "write_batch", counting)
    writer = BatchWriter(db_url, spool_dir=spool_dir, batch_wait_s=30)
    try:
        writer.flush()  # the schema is made: what follows is the batch alone
        for _ in range(20):
            writer.submit(make_record())
            time.sleep(0.002)
        started = time.monotonic()
        assert writer.flush(timeout=20)
        assert time.monotonic() - started < 20
    finally:
        writer.close()
    assert sizes == [20] and counts(db_url) == (20, 40, 20)


def test_the_same_record_twice_gives_one_row(db_url: str, spool_dir: Path) -> None:
    record = make_record()
    writer = BatchWriter(db_url, spool_dir=spool_dir)
    try:
        writer.submit(record)
        writer.flush()
        writer.submit(record)
        writer.submit(replace(record))
        writer.flush()
    finally:
        writer.close()
    assert counts(db_url) == (1, 2, 1)


def test_outage_spools_then_replays_each_record_once(down_database: Down, spool_dir: Path) -> None:
    url, bring_up = down_database
    writer = BatchWriter(url, spool_dir=spool_dir, retry_interval_s=0.1)
    try:
        records = [make_record() for _ in range(50)]
        for record in records[:30]:
            writer.submit(record)
        assert writer.flush() and writer.spooling
        assert len(segments(writer)) == 1
        bring_up()
        for record in records[30:]:
            writer.submit(record)
        writer.submit(records[0])  # a duplicate across the outage
        assert writer.flush()
        assert not writer.spooling and segments(writer) == []
    finally:
        writer.close()
    assert {row["id"] for row in executions(url)} == {r.id for r in records}
    assert counts(url) == (50, 100, 50)


def test_a_spool_left_by_an_earlier_process_is_replayed(
    down_database: Down, spool_dir: Path
) -> None:
    url, bring_up = down_database
    script = textwrap.dedent(
        f"""
        import os
        from aa_notebooks.tracking.writer import BatchWriter
        from tests.tracking.test_store import make_record
        writer = BatchWriter({url!r}, spool_dir={str(spool_dir)!r})
        for _ in range(25):
            writer.submit(make_record(agent="earlier"))
        assert writer.flush() and writer.spooling
        os._exit(0)  # dies without closing: its segment stays, unlocked by its death
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, cwd=Path(__file__).parents[2])
    bring_up()
    writer = BatchWriter(url, spool_dir=spool_dir)
    try:
        assert writer.flush()
        assert segments(writer) == [] and list(writer.spool.directory.glob("segment-*")) == []
    finally:
        writer.close()
    assert counts(url) == (25, 50, 25)


def test_a_live_writers_spool_is_left_to_it(down_database: Down, spool_dir: Path) -> None:
    url, bring_up = down_database
    first = BatchWriter(url, spool_dir=spool_dir, retry_interval_s=60)
    second = None
    try:
        first.submit(make_record())
        first.flush()
        bring_up()
        second = BatchWriter(url, spool_dir=spool_dir)
        second.flush()
        assert counts(url) == (0, 0, 0)  # the first writer holds its segment
        first.flush()  # flushing retries its spool now
        assert counts(url) == (1, 2, 1)
    finally:
        first.close()
        if second is not None:
            second.close()


def test_a_torn_last_line_is_skipped(db_url: str, spool_dir: Path) -> None:
    probe = BatchWriter(db_url, spool_dir=spool_dir)
    probe.close()
    good = [make_record() for _ in range(3)]
    torn = make_record().to_json()[:57]
    probe.spool.directory.mkdir(parents=True, exist_ok=True)
    segment = probe.spool.directory / "segment-1-999999-deadbeef.jsonl"
    segment.write_text("".join(r.to_json() + "\n" for r in good) + torn)

    writer = BatchWriter(db_url, spool_dir=spool_dir)
    try:
        writer.flush()
    finally:
        writer.close()
    assert {row["id"] for row in executions(db_url)} == {r.id for r in good}
    assert not segment.exists()


def test_a_refused_record_is_set_aside_and_the_rest_written(db_url: str, spool_dir: Path) -> None:
    good = [make_record() for _ in range(4)]
    refused = make_record()
    refused = ExecutionRecord({**refused.execution, "session_id": None}, refused.traces)
    writer = BatchWriter(db_url, spool_dir=spool_dir)
    try:
        for record in [*good[:2], refused, *good[2:]]:
            writer.submit(record)
        writer.flush()
    finally:
        writer.close()
    assert {row["id"] for row in executions(db_url)} == {r.id for r in good}
    kept = (writer.spool.directory / REJECTED_FILE).read_text().splitlines()
    assert len(kept) == 1 and str(refused.id) in kept[0] and "IntegrityError" in kept[0]


def test_a_short_script_loses_nothing_at_exit(db_url: str, spool_dir: Path) -> None:
    script = textwrap.dedent(
        f"""
        from aa_notebooks.tracking import configure, track_agent
        configure({db_url!r}, spool_dir={str(spool_dir)!r})

        @track_agent("script")
        def agent(i):
            return i

        for i in range(200):
            agent(i)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    subprocess.run([sys.executable, "-c", script], check=True, env=env)
    get_engine(db_url).dispose()
    assert counts(db_url) == (200, 0, 0)
