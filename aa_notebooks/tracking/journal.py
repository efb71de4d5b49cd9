"""The write-ahead journal: what this process's runs are doing, on disk, so that a kill loses none.

A writer notes a run's start (`started`, a line `{"start": {...}}`) and its finished record
(`finished`, before queueing it: the record's JSON line, `record.to_line`). The journal file is
mapped into memory (shared with the kernel's page cache), so noting a line is a memory copy: no
system call, and the agent thread keeps the interpreter lock, which a `write` would hand to the
busy writer thread each time. The kernel keeps the copied pages when the process dies however it
dies (SIGKILL included) and writes them out; nothing is fsync'd, so a power failure is not
covered. The file's blocks are reserved when it is made (a full disk fails then, as an error, not
later as a fault on the mapping), and all of it past the last line is NUL bytes: a reader stops
at the first NUL, and a line cut short by a kill ends without its newline, so it is recognised as
torn. A child process forked from a writer lets the inherited files go: its lines go to files of
its own, never over its parent's.

Journals live beside the spool's segments as `journal-*.jsonl`, each locked (`flock`) by its writer
for as long as it lives. A journal holds only the backlog: once every record in it is committed or
spooled and no run is open, it is emptied; under constant load, past ROTATE_BYTES, a new file
takes the open runs' start lines and the old one is emptied once its records are handled, to be
the next new file (a file that fills up before that rotates at once).

A journal nobody holds was left by a process that died. Any writer for the same database recovers
it (`recover`): the records in it are written (idempotently: those already committed are
skipped), and a run that started but never ended is recorded as cut off, at the journal's last
heartbeat (its writer touches it every HEARTBEAT_S while it lives).
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import mmap
import os
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import ExitStack, suppress
from datetime import UTC, datetime
from pathlib import Path

from aa_notebooks.tracking.record import (
    ExecutionRecord,
    Row,
    cut_off_record,
    json_line,
    start_from_json,
)
from aa_notebooks.tracking.spool import Spool, fsync_directory

log = logging.getLogger(__name__)

CAPACITY = 2 * 1024 * 1024
"""Bytes reserved for a journal file (more when one line needs it)."""
ROTATE_BYTES = 1024 * 1024
"""Past this, a journal with records still outstanding moves to a new file."""
HEARTBEAT_S = 1.0
_ZEROS = memoryview(bytes(64 * 1024))  # cleared files are zeroed from this (no new buffer)
CUT_OFF_BY_DEATH = "the process ended while the run was going (found by a later process)"


class JournalFile:
    """One journal file mapped into memory, appended to by copying lines into the mapping."""

    def __init__(self, directory: Path, capacity: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        stem = f"journal-{time.time_ns()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        temporary = directory / f"{stem}.tmp"
        self.path = directory / f"{stem}.jsonl"
        self.capacity = -(-capacity // mmap.PAGESIZE) * mmap.PAGESIZE
        self.used = 0
        self.fd = os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # locked under its temporary name
            _reserve(self.fd, self.capacity)
            self.map = mmap.mmap(self.fd, self.capacity)
        except BaseException:
            os.close(self.fd)
            temporary.unlink(missing_ok=True)
            raise
        try:
            os.rename(temporary, self.path)
        except BaseException:
            self.path = temporary
            self.remove()
            raise

    def append(self, line: bytes) -> bool:
        """Copy a line in after the last one; False when it does not fit."""
        start = self.used
        end = start + len(line)
        if end > self.capacity:
            return False
        self.used = end  # first: a signal handler that appends meanwhile writes after it
        self.map[start:end] = line
        return True

    def clear(self) -> None:
        """Empty the file: it reads as empty once its first byte is NUL, then the rest of what
        was used is zeroed (so a later line never runs into an old one)."""
        if self.used:
            self.map[0] = 0
            for start in range(1, self.used, len(_ZEROS)):
                end = min(start + len(_ZEROS), self.used)
                self.map[start:end] = _ZEROS[: end - start]
            self.used = 0

    def remove(self) -> None:
        """Delete the file and release it."""
        self.path.unlink(missing_ok=True)
        self.release()

    def release(self) -> None:
        """Unmap and close the file, leaving it on disk."""
        self.map.close()
        os.close(self.fd)


class Journal:
    """One writer's journal file(s), appended to by agent threads, settled by the writer."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.RLock()  # re-entered by a signal handler that interrupts it
        self._file: JournalFile | None = None
        self._spare: JournalFile | None = None  # an emptied file, kept for the next rotation
        self._written = 0  # records appended so far: the writer handles them in this order
        self._open: dict[uuid.UUID, bytes] = {}  # start lines of the runs not ended yet
        self._retired: list[tuple[JournalFile, int]] = []  # (file, records written by then)
        self._failed = False
        _journals.add(self)

    def started(self, row: Row) -> None:
        """Note a run that starts (its execution row as known at the start)."""
        line = json_line({"start": row})
        with self._lock:
            self._append(line)
            self._open[row["id"]] = line

    def finished(self, record: ExecutionRecord, enqueue: Callable[[], None]) -> None:
        """Note a finished record, then `enqueue` it, both in journal order."""
        line = record.to_line()
        with self._lock:
            self._append(line)
            self._open.pop(record.id, None)
            self._written += 1
            enqueue()

    def settle(self, handled: int) -> None:
        """After the writer handled its first `handled` records: drop what they made obsolete.

        Emptied files are cleared and used again: their pages are already mapped, so lines are
        copied in without a page fault each time a new page is reached.
        """
        with self._lock:
            current = self._file
            if current is not None and not self._failed:
                if handled >= self._written and not self._open:
                    if current.capacity == CAPACITY:
                        current.clear()
                    else:  # made bigger for a big line: give its disk back
                        current.remove()
                        self._file = None
                elif current.used > ROTATE_BYTES:
                    try:
                        self._rotate(0)
                    except OSError as error:
                        self._fail(error)
            still = []
            for file, written in self._retired:
                if handled < written:
                    still.append((file, written))
                elif self._spare is None and file.capacity == CAPACITY:
                    file.clear()
                    self._spare = file
                else:
                    file.remove()
            self._retired = still

    def heartbeat(self) -> None:
        """Mark the journal as alive now (its modification time dates a cut-off after a kill)."""
        current = self._file
        if current is not None and not self._failed:
            with suppress(OSError):
                os.utime(current.path)

    def close(self) -> None:
        """Remove the journal: its writer has handled every record and is stopping (runs still
        open then are written directly when they end)."""
        with self._lock:
            files = [file for file, _ in self._retired] + [self._file, self._spare]
            for file in files:
                if file is not None:
                    file.remove()
            self._retired = []
            self._file = self._spare = None
            self._open.clear()
            self._failed = True  # nothing more is journaled by this writer

    def forked(self) -> None:
        """In a child process just forked: the files and runs are the parent's; let them go."""
        self._lock = threading.RLock()  # another thread may have held it at the fork
        for file in [self._file, self._spare, *(file for file, _ in self._retired)]:
            if file is not None:
                file.release()
        self._file = self._spare = None
        self._retired = []
        self._open = {}

    def _append(self, line: bytes) -> None:
        """Add a line; a disk problem stops journaling (logged once), never the agent."""
        if self._failed:
            return
        try:
            if self._file is None:
                self._file = JournalFile(self.directory, max(CAPACITY, 2 * len(line)))
            if not self._file.append(line):
                self._rotate(len(line))
                self._file.append(line)
        except OSError as error:
            self._fail(error)

    def _fail(self, error: OSError) -> None:
        self._failed = True
        log.error("cannot write the recording journal in %s: %s; a kill of this process "
                  "may now lose its runs in progress", self.directory, error)  # fmt: skip

    def _rotate(self, room: int) -> None:
        """Move to a new file (the spare, when it has room) holding the open runs' start lines,
        with `room` bytes to spare; the current file is removed once the records written so far
        are handled."""
        carried = b"".join(self._open.values())
        needed = len(carried) + room
        fresh, self._spare = self._spare, None
        if fresh is None or fresh.capacity < needed:
            if fresh is not None:
                fresh.remove()
            fresh = JournalFile(self.directory, max(CAPACITY, 2 * needed))
        fresh.append(carried)
        if self._file is not None:
            self._retired.append((self._file, self._written))
        self._file = fresh


_journals: weakref.WeakSet[Journal] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for journal in list(_journals):
        journal.forked()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _reserve(fd: int, size: int) -> None:
    """Give the file `size` bytes of disk now, so that no store into its mapping needs a block
    the disk may not have (that would be a SIGBUS, not an error)."""
    try:
        os.posix_fallocate(fd, 0, size)
        return
    except AttributeError:  # a platform without it
        pass
    except OSError as error:  # a file system without it (where the C library does not emulate it)
        if error.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
            raise
    zeros = bytes(mmap.PAGESIZE * 16)
    for offset in range(0, size, len(zeros)):
        os.pwrite(fd, zeros[: size - offset], offset)


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
    """The whole lines of a journal, up to its first NUL byte; a torn last line (a kill
    mid-copy) goes to rejected."""
    data = path.read_bytes()
    end = data.find(b"\0")
    lines = (data if end < 0 else data[:end]).split(b"\n")
    for number, line in enumerate(lines[:-1], start=1):
        yield number, line + b"\n"
    if lines[-1]:
        spool.reject_line(lines[-1], f"journal {path.name} line {len(lines)}: truncated")


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
