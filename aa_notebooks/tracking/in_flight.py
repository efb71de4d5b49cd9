"""Runs in flight, in the database: what `Analytics.running()` and the dashboard show.

The writer thread keeps them (`InFlight.tick`, on each of its wake-ups, at least once a second):
- a run going for `MARK_AFTER_S` is inserted into `runningexecutions` (shorter runs never are:
  they cost nothing here);
- every `heartbeat_every_s` its writer renews `heartbeat_at` of all its rows in one UPDATE;
- the transaction that stores an execution deletes its row (`write_batch(..., running=...)`), so
  a run is never both running and stored, nor neither;
- a row whose heartbeat stopped `record_lost_after_s` ago belongs to a process that died: any
  live writer of the database records it as a failure (error type CutOff, the reason in the
  message) and deletes the row, in one transaction. The execution id is the run's own, so a run
  also recovered from its journal, or reaped by two writers at once, is stored once.

A database without the table (an AgentOS one the kit does not alter) is left alone.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, inspect, select, update

from aa_notebooks.db.schema import RunningExecution, table_of
from aa_notebooks.tracking.insert import insert_new
from aa_notebooks.tracking.record import START_FIELDS, ExecutionRecord, cut_off_record
from aa_notebooks.tracking.run import Run

log = logging.getLogger(__name__)

RUNNING = table_of(RunningExecution)
MARK_AFTER_S = 1.0
"""Runs shorter than this are never written as running."""
HEARTBEAT_EVERY_S = 5.0
RECORD_LOST_AFTER_S = 600.0
"""How long after its last heartbeat a run is recorded as a failure (it stays "lost" before)."""
LOST_BATCH = 500


class InFlight:
    """One writer's runs in flight: marks them, renews their heartbeat, records dead ones."""

    def __init__(
        self,
        engine: Engine,
        heartbeat_every_s: float = HEARTBEAT_EVERY_S,
        record_lost_after_s: float = RECORD_LOST_AFTER_S,
    ) -> None:
        self.engine = engine
        self.heartbeat_every_s = heartbeat_every_s
        self.record_lost_after_s = record_lost_after_s
        self.writer_id = str(uuid.uuid4())
        self.marked: set[uuid.UUID] = set()
        """Runs of this writer that have a row; their records clear it when stored."""
        self._host = socket.gethostname()
        self._next_beat = 0.0
        self._enabled: bool | None = None  # unknown until the database is first read

    def tick(
        self, running: Iterable[Run], write_lost: Callable[[list[ExecutionRecord]], None]
    ) -> None:
        """Mark the runs going for `MARK_AFTER_S`; when due, renew the heartbeat and have
        `write_lost` store the runs of dead processes (it clears their rows)."""
        if not self.enabled:
            return
        now = datetime.now(UTC)
        fresh = [
            run
            for run in running
            if run.id not in self.marked and run.elapsed_ms >= MARK_AFTER_S * 1000
        ]
        if fresh:
            with self.engine.begin() as connection:
                insert_new(connection, RUNNING, [self._row(run, now) for run in fresh])
            self.marked.update(run.id for run in fresh)
        if time.monotonic() < self._next_beat:
            return
        self._next_beat = time.monotonic() + self.heartbeat_every_s
        if self.marked:
            with self.engine.begin() as connection:
                connection.execute(
                    update(RUNNING)
                    .where(RUNNING.c.writer_id == self.writer_id)
                    .values(heartbeat_at=now)
                )
        if lost := self.lost(now):
            write_lost(lost)

    @property
    def enabled(self) -> bool:
        """Whether the database has the table (an AgentOS one does not); read once."""
        if self._enabled is None:
            self._enabled = inspect(self.engine).has_table(RUNNING.name)
        return self._enabled

    def stored(self, records: Sequence[ExecutionRecord]) -> list[uuid.UUID]:
        """The ids among `records` whose running row their transaction must delete."""
        return [record.id for record in records if record.id in self.marked]

    def cleared(self, ids: Iterable[uuid.UUID]) -> None:
        """Their rows are gone with the transaction that stored them."""
        self.marked.difference_update(ids)

    def lost(self, now: datetime) -> list[ExecutionRecord]:
        """The failure records of runs whose heartbeat stopped `record_lost_after_s` ago."""
        cutoff = now - timedelta(seconds=self.record_lost_after_s)
        query = (
            select(RUNNING)
            .where(RUNNING.c.heartbeat_at < cutoff)
            .order_by(RUNNING.c.heartbeat_at)
            .limit(LOST_BATCH)
        )
        with self.engine.connect() as connection:
            rows = [dict(row._mapping) for row in connection.execute(query)]
        return [lost_record(row, now) for row in rows]

    def _row(self, run: Run, now: datetime) -> dict[str, Any]:
        return {
            **run.start_row(),
            "heartbeat_at": now,
            "heartbeat_every_s": self.heartbeat_every_s,
            "writer_id": self.writer_id,
            "host": self._host,
            "pid": os.getpid(),
        }


def lost_record(row: dict[str, Any], found_at: datetime) -> ExecutionRecord:
    """The failure record of a running row whose heartbeat stopped: its duration runs to its
    last heartbeat; it completes when found (`found_at`), so followers of completions (`tail`,
    live dashboards) see it arrive."""
    where = f"host {row['host']}, pid {row['pid']}" if row.get("host") else "its process"
    waited = max(found_at - row["heartbeat_at"], timedelta(0)).total_seconds()
    why = (
        f"lost: {where} stopped sending heartbeats at {row['heartbeat_at']:%Y-%m-%d %H:%M:%S} "
        f"UTC; recorded as failed {waited:.0f} s later"
    )
    start = {name: row.get(name) for name in START_FIELDS}
    record = cut_off_record(start, row["heartbeat_at"], why)
    record.execution["completed_at"] = max(found_at, record.execution["completed_at"])
    return record
