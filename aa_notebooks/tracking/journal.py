"""The write-ahead journal: what this process's runs are doing, on disk, so that a kill loses none.

A writer appends one line when a run starts (`{"start": {...}}`) and the whole record when it
ends, before queueing it. Lines are written, not fsync'd: the kernel keeps them when the process
dies however it dies (SIGKILL included); a power failure is not covered. The journal lives beside
the spool's segments as `journal-*.jsonl`, locked (`flock`) by its writer for as long as it
lives. It holds only the backlog: once every record in it is committed or spooled and no run is
open, it is emptied; under constant load, past ROTATE_BYTES, a new file takes the open runs' start
lines and the old one is removed once its records are handled.

A journal nobody holds was left by a process that died. Any writer for the same database recovers
it (`recover`): the records in it are written (idempotently: those already committed are
skipped), and a run that started but never ended is recorded as cut off, at the journal's last
heartbeat (its writer touches it every HEARTBEAT_S while it lives).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, suppress
from datetime import UTC, datetime
from pathlib import Path

from aa_notebooks.tracking.record import ExecutionRecord, Row, cut_off_record, start_from_json
from aa_notebooks.tracking.spool import Spool, fsync_directory, write_all

log = logging.getLogger(__name__)

ROTATE_BYTES = 4 * 1024 * 1024
HEARTBEAT_S = 1.0
CUT_OFF_BY_DEATH = "the process ended while the run was going (found by a later process)"


class Journal:
    """One writer's journal file(s), appended to by agent threads, settled by the writer."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.RLock()  # re-entered by a signal handler that interrupts it
        self._fd: int | None = None
        self._path: Path | None = None
        self._written = 0  # records appended so far: the writer handles them in this order
        self._open: dict[uuid.UUID, bytes] = {}  # start lines of the runs not ended yet
        self._retired: list[tuple[int, Path, int]] = []  # (fd, path, records written by then)
        self._failed = False

    def started(self, row: Row) -> None:
        """Note a run that starts (its execution row as known at the start)."""
        line = json.dumps({"start": row}, default=str, separators=(",", ":")).encode() + b"\n"
        with self._lock:
            self._append(line)
            self._open[row["id"]] = line

    def finished(self, record: ExecutionRecord, enqueue: Callable[[], None]) -> None:
        """Note a finished record, then `enqueue` it, both in journal order."""
        line = record.to_json().encode() + b"\n"
        with self._lock:
            self._append(line)
            self._open.pop(record.id, None)
            self._written += 1
            enqueue()

    def settle(self, handled: int) -> None:
        """After the writer handled its first `handled` records: drop what they made obsolete."""
        with self._lock:
            still = []
            for fd, path, written in self._retired:
                if handled >= written:
                    path.unlink(missing_ok=True)
                    os.close(fd)
                else:
                    still.append((fd, path, written))
            self._retired = still
            if self._fd is None or self._failed:
                return
            size = os.fstat(self._fd).st_size
            if handled >= self._written and not self._open and not self._retired:
                if size:
                    os.ftruncate(self._fd, 0)
            elif size > ROTATE_BYTES:
                self._retired.append((self._fd, self._path, self._written))  # type: ignore[arg-type]
                self._fd = self._path = None
                for line in self._open.values():
                    self._append(line)

    def heartbeat(self) -> None:
        """Mark the journal as alive now (its modification time dates a cut-off after a kill)."""
        path = self._path
        if path is not None and not self._failed:
            with suppress(OSError):
                os.utime(path)

    def close(self) -> None:
        """Remove the journal: its writer has handled every record and is stopping (runs still
        open then are written directly when they end)."""
        with self._lock:
            for fd, path, _ in self._retired:
                path.unlink(missing_ok=True)
                os.close(fd)
            self._retired = []
            if self._fd is not None and self._path is not None:
                self._path.unlink(missing_ok=True)
                os.close(self._fd)
            self._fd = self._path = None
            self._open.clear()
            self._failed = True  # nothing more is journaled by this writer

    def _append(self, line: bytes) -> None:
        """Write a line; a disk problem stops journaling (logged once), never the agent."""
        if self._failed:
            return
        try:
            if self._fd is None:
                self._fd, self._path = _new_file(self.directory)
            write_all(self._fd, line)
        except OSError as error:
            self._failed = True
            log.error("cannot write the recording journal in %s: %s; a kill of this process "
                      "may now lose its runs in progress", self.directory, error)  # fmt: skip


def recover(spool: Spool, write: Callable[[list[ExecutionRecord]], None], batch_size: int) -> int:
    """Write what the journals of dead writers hold; returns how many records were written.

    Journals held by a live writer are left alone; an exception from `write` (an outage) leaves
    them all for a later try. Unreadable lines go to the spool's rejected file.
    """
    if not spool.directory.exists():
        return 0
    with ExitStack() as held:
        paths = []
        for path in sorted(spool.directory.glob("journal-*.jsonl")):
            fd = _lock_orphan(path)
            if fd is not None:
                held.callback(os.close, fd)
                paths.append(path)
        if not paths:
            return 0
        records = _recovered(spool, paths)
        for start in range(0, len(records), batch_size):
            write(records[start : start + batch_size])
        for path in paths:
            path.unlink(missing_ok=True)
        fsync_directory(spool.directory)
    if records:
        log.info("recovered %d records from the journal of an ended process", len(records))
    return len(records)


def _recovered(spool: Spool, paths: list[Path]) -> list[ExecutionRecord]:
    """The records of these journals, and a cut-off record for each run that never ended."""
    records: dict[uuid.UUID, ExecutionRecord] = {}
    starts: dict[uuid.UUID, Row] = {}
    for path in paths:
        for number, line in _lines(spool, path):
            try:
                document = json.loads(line)
                if isinstance(document, dict) and "start" in document:
                    row = start_from_json(document["start"])
                    starts[row["id"]] = row
                else:
                    record = ExecutionRecord.from_json(line)
                    records[record.id] = record
            except Exception as error:  # any unreadable line: kept aside, the rest goes on
                spool.reject_line(line, f"journal {path.name} line {number}: {error!r}")
    heartbeat = datetime.fromtimestamp(max(p.stat().st_mtime for p in paths), UTC)
    for run_id, row in starts.items():
        if run_id not in records:
            records[run_id] = cut_off_record(row, heartbeat, CUT_OFF_BY_DEATH)
    return list(records.values())


def _lines(spool: Spool, path: Path) -> Iterator[tuple[int, bytes]]:
    """The whole lines of a journal; a torn last line (a kill mid-write) goes to rejected."""
    with path.open("rb") as file:
        for number, line in enumerate(file, start=1):
            if not line.endswith(b"\n"):
                spool.reject_line(line, f"journal {path.name} line {number}: truncated")
                return
            yield number, line


def _new_file(directory: Path) -> tuple[int, Path]:
    """A new journal file, locked under a temporary name before it gets its real one."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"journal-{time.time_ns()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    temporary = directory / f"{stem}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    path = directory / f"{stem}.jsonl"
    os.rename(temporary, path)
    return fd, path


def _lock_orphan(path: Path) -> int | None:
    """A descriptor holding the lock of a journal whose writer is gone; None while one lives."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.stat(path).st_ino == os.fstat(fd).st_ino:
            return fd
    except (BlockingIOError, FileNotFoundError):
        pass
    os.close(fd)
    return None
