"""The local spool: records the database could not take, in JSON-lines files until replayed.

Layout: `<spool dir>/<database>/segment-*.jsonl`, one line per record (`ExecutionRecord.to_line`).
Each writer appends to a segment of its own, which it holds locked (`flock`) for as long as it
lives; a segment that nobody holds was left by a process that has ended, and any writer for the
same database replays it. An append is whole lines, fsync'd before `append` returns.
Replaying is safe to repeat: writing is idempotent on the execution id, so a crash between the
commit and the removal of a segment writes nothing twice.

Nothing is dropped: what cannot be replayed is moved to `rejected.jsonl` beside the segments, one
JSON line each with the reason (`"error"`) and the record (`"record"`) or, when it cannot be
read as one, the raw text (`"line"`): a line that is not JSON or holds a bad value, a torn last
line (a crash mid-write), a record the database refuses for good (not an outage). The rest of
the segment, and every later one, replays.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from platformdirs import user_data_dir
from sqlalchemy.engine import URL

from aa_notebooks.tracking.record import ExecutionRecord

log = logging.getLogger(__name__)

REJECTED_FILE = "rejected.jsonl"


def default_spool_dir() -> Path:
    """Where spools live unless configured: `spool/` in the user's data directory."""
    return Path(user_data_dir("aa-notebooks", appauthor=False)) / "spool"


def database_directory(root: Path, url: URL) -> Path:
    """The spool directory of one database: a readable name plus a hash of the URL that names
    it (`_identity`), so that settings of the connection alone (`application_name`, `sslmode`,
    timeouts) do not split a database's spool, and a relative SQLite path, which names a
    different file in each working directory, is the file's real path."""
    return _directory(root, url, _sqlite_path(url) or url.database, _identity(url))


def _earlier_directory(root: Path, url: URL) -> Path:
    """The directory earlier versions named by a hash of the whole masked URL as given."""
    return _directory(root, url, url.database, url.render_as_string(hide_password=True))


def earlier_spool(root: Path, url: URL) -> Spool | None:
    """The spool earlier versions kept for this URL (a hash of the whole masked URL as given),
    when it is another directory that exists: its records are this database's too, unless the
    URL names a SQLite file relative to the working directory, where they may be another
    directory's; then a warning says where they wait, and they are left there."""
    earlier = _earlier_directory(root, url)
    if earlier == database_directory(root, url) or not earlier.is_dir():
        return None
    if _relative_sqlite(url):
        if _orphaned_files(earlier):
            log.warning(
                "runs an earlier version spooled for %s wait in %s: that URL names a file "
                "relative to the working directory, so they may be another directory's runs; "
                "to write them to %s, move its segment-*.jsonl and journal-*.jsonl files into %s",
                url.render_as_string(hide_password=True), earlier,
                os.path.realpath(_sqlite_path(url) or ""),
                database_directory(root, url),
            )  # fmt: skip
        return None
    return Spool(earlier)


def warn_of_other_spools(root: Path, url: URL) -> None:
    """PostgreSQL: warn of records left by ended processes in the spool of another URL of a
    database with this database's name (another role, host spelling or server): they may be
    this database's, spooled before a change of credentials, but only a person can tell, so
    they are left. (A SQLite file's spool is named by its real path: no other URL is it.)"""
    if url.get_backend_name() != "postgresql":
        return
    current = database_directory(root, url)
    known = (current, _earlier_directory(root, url))  # replayed, or said to wait (`earlier_spool`)
    prefix = current.name.rsplit("-", 1)[0] + "-"
    others = [
        path
        for path in sorted(root.glob(f"{glob.escape(prefix)}{'[0-9a-f]' * 12}"))
        if path.is_dir() and path not in known and _orphaned_files(path)
    ]
    if others:
        log.warning(
            "runs spooled for another URL of a database named %s wait in %s (left by processes "
            "that ended); if they belong to %s, move their segment-*.jsonl and journal-*.jsonl "
            "files into %s and the next run writes them",
            url.database, ", ".join(map(str, others)), url.render_as_string(hide_password=True),
            current,
        )  # fmt: skip


def _orphaned_files(directory: Path) -> list[Path]:
    """The segments and journals in `directory` that no living writer holds."""
    found = []
    for path in [*directory.glob("segment-*.jsonl"), *directory.glob("journal-*.jsonl")]:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(fd).st_size:
                found.append(path)
        except BlockingIOError:
            pass  # its writer lives
        finally:
            os.close(fd)
    return found


def _directory(root: Path, url: URL, database: str | None, identity: str) -> Path:
    """`<backend>-<the database's name, readable>-<a hash of its identity>`."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(database or "memory").name)[:40]
    digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
    return root / f"{url.get_backend_name()}-{name}-{digest}"


def _relative_sqlite(url: URL) -> bool:
    """A SQLite URL whose file is named relative to the working directory."""
    path = _sqlite_path(url)
    return path is not None and not os.path.isabs(path)


def _sqlite_path(url: URL) -> str | None:
    """The path of the file a SQLite URL names (`file:` URIs too); None for memory or a
    server."""
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    if database.startswith("file:"):
        path = database[len("file:") :].split("?", 1)[0]
        return None if path in ("", ":memory:") or url.query.get("mode") == "memory" else path
    return database


def _identity(url: URL) -> str:
    """The masked URL that names the database, as earlier versions hashed it (so that their
    spool is this one wherever nothing below applies): without the query settings that only
    shape the connection, and for SQLite with the file's real path. The role, host and port
    stay: a role may choose its schema (`search_path` = `"$user", public`), and two servers
    on one machine differ only by socket or port."""
    path = _sqlite_path(url)
    if path is not None:
        real = os.path.realpath(path)
        database = url.database or ""
        url = url.set(database=database.replace(path, real, 1))
    shaping = [key for key in url.query if key.lower() in _CONNECTION_SETTINGS]
    return url.difference_update_query(shaping).render_as_string(hide_password=True)


_CONNECTION_SETTINGS = frozenset({
    "application_name", "fallback_application_name", "connect_timeout", "client_encoding",
    "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
    "tcp_user_timeout", "sslmode", "sslcert", "sslkey", "sslrootcert", "sslcrl", "sslcrldir",
    "sslpassword", "sslcompression", "sslsni", "ssl_min_protocol_version",
    "ssl_max_protocol_version", "gssencmode", "channel_binding", "passfile", "password",
    "require_auth", "krbsrvname", "gsslib", "timeout",
})  # fmt: skip
"""Query options that shape how the connection is made, never which database it reaches
(libpq's, and SQLite's `timeout`)."""


class Spool:
    """The segments of one database's spool, as seen by one writer (which owns one of them)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._own: int | None = None
        self._own_path: Path | None = None

    def append(self, records: Sequence[ExecutionRecord]) -> None:
        """Add records to this writer's segment; they are on disk when this returns."""
        fd = self._own_segment()
        data = b"".join(record.to_line() for record in records)
        size = os.fstat(fd).st_size
        try:
            write_all(fd, data)
            os.fsync(fd)
        except OSError:
            os.ftruncate(fd, size)  # never leave half a line for the next append to extend
            raise

    def has_own_records(self) -> bool:
        """Whether this writer's segment holds records not yet replayed."""
        return self._own is not None and os.fstat(self._own).st_size > 0

    def replay(self, write: Callable[[list[ExecutionRecord]], None], batch_size: int) -> int:
        """Give every spooled record to `write`, in batches; returns how many records were read.

        A segment is emptied (or removed, when another process left it) once all of it is
        written; an exception from `write` stops the replay and leaves the rest in place.
        """
        count = 0
        if self._own is not None:
            count += self._replay_file(self._own, write, batch_size)
            os.ftruncate(self._own, 0)
        if not self.directory.exists():
            return count
        for path in sorted(self.directory.glob("segment-*.jsonl")):
            if path != self._own_path:
                count += self._replay_orphan(path, write, batch_size)
        return count

    def reject(self, record: ExecutionRecord, error: BaseException) -> None:
        """Keep a record the database refuses (not an outage) with its error, for a human."""
        message = json.dumps(f"{type(error).__name__}: {error}")
        self._keep_rejected(f'{{"error":{message},"record":{record.to_json()}}}\n')

    def reject_line(self, line: bytes, reason: str) -> None:
        """Keep a spooled or journaled line that cannot be read as a record, with the reason."""
        text = line.decode("utf-8", errors="replace").rstrip("\n")
        self._keep_rejected(json.dumps({"error": reason, "line": text}) + "\n")

    def _keep_rejected(self, line: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        fd = os.open(self.directory / REJECTED_FILE, flags, 0o600)
        try:
            write_all(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        """Release this writer's segment: removed when empty, else left for a later replay."""
        if self._own is None:
            return
        if os.fstat(self._own).st_size == 0 and self._own_path is not None:
            self._own_path.unlink(missing_ok=True)
        os.close(self._own)
        self._own = self._own_path = None

    def _own_segment(self) -> int:
        """This writer's segment, created and locked on first use.

        It is locked under a temporary name and only then renamed, so no other writer can take
        a fresh segment for an abandoned one.
        """
        if self._own is not None:
            return self._own
        self.directory.mkdir(parents=True, exist_ok=True)
        stem = f"segment-{time.time_ns()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        temporary = self.directory / f"{stem}.tmp"
        fd = os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        path = self.directory / f"{stem}.jsonl"
        os.rename(temporary, path)
        fsync_directory(self.directory)
        self._own, self._own_path = fd, path
        return fd

    def _replay_orphan(
        self, path: Path, write: Callable[[list[ExecutionRecord]], None], batch_size: int
    ) -> int:
        """Replay and remove a segment whose writer is gone; skip it while a writer holds it."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return 0  # another writer replayed it just now
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return 0  # its writer is alive
            if not _same_file(fd, path):
                return 0  # replayed and removed while we waited
            count = self._replay_file(fd, write, batch_size)
            if count:
                log.info("replayed %d spooled records from %s", count, path)
            path.unlink()
            fsync_directory(self.directory)
            return count
        finally:
            os.close(fd)

    def _replay_file(
        self, fd: int, write: Callable[[list[ExecutionRecord]], None], batch_size: int
    ) -> int:
        """Write a segment's records in batches; its unreadable lines are moved to the rejected
        file once the whole segment is written (so an outage midway moves nothing twice)."""
        unreadable: list[tuple[bytes, str]] = []
        batch: list[ExecutionRecord] = []
        count = 0
        for record in _read_records(fd, unreadable):
            batch.append(record)
            if len(batch) >= batch_size:
                write(batch)
                count += len(batch)
                batch = []
        if batch:
            write(batch)
            count += len(batch)
        for line, reason in unreadable:
            log.error("spool %s; moved to %s", reason, REJECTED_FILE)
            self.reject_line(line, f"spool {reason}")
        return count


def _read_records(fd: int, unreadable: list[tuple[bytes, str]]) -> Iterator[ExecutionRecord]:
    """The records of a segment from its start; lines that are not one go to `unreadable`."""
    with os.fdopen(os.dup(fd), "rb") as file:
        file.seek(0)
        for number, line in enumerate(file, start=1):
            if not line.endswith(b"\n"):
                unreadable.append((line, f"line {number}: truncated (a crash while writing it)"))
                return
            try:
                yield ExecutionRecord.from_json(line)
            except Exception as exc:  # whatever a damaged line raises, the rest goes on
                unreadable.append((line, f"line {number}: unreadable ({exc!r})"))


def write_all(fd: int, data: bytes) -> None:
    """Write all of `data` (os.write may write less than asked)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def fsync_directory(directory: Path) -> None:
    """Make a file's creation, rename or removal durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
