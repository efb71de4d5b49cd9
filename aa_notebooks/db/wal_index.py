"""Whether anything was committed to a SQLite database in WAL mode, told without a system call.

Every commit in WAL mode rewrites the header of the wal-index, the `-shm` file that all
connections map into memory, and increments its change counter (`iChange`; the header's layout
is documented in SQLite's "WAL-mode File Format", section 2.1). Reading that counter through a
read-only mapping of the file is a memory read: unlike a query or even `os.stat`, it does not
release the interpreter lock, which the hard-stop check would otherwise hand to the busy writer
thread before every execution. A counter that has not moved means no transaction committed, so
a value read from the database since then is still the committed one.

Anything unexpected (no `-shm` file: not WAL mode, an in-memory or exclusive-locking database; a
header of another version or not initialised) gives None, and callers read the database.
"""

from __future__ import annotations

import mmap
import os
import struct
from contextlib import suppress
from typing import Any

_HEADER = struct.Struct("=I4xIB")  # iVersion, (unused), iChange, isInit; native byte order
_VERSION = 3007000
_COPY_BYTES = 48
"""The header is kept twice, one copy after the other; a writer updates the second first."""


class CommitCounter:
    """The wal-index change counter of one database file, mapped read-only."""

    def __init__(self, database_file: str) -> None:
        self._map: mmap.mmap | None = None
        with suppress(OSError, ValueError):
            descriptor = os.open(database_file + "-shm", os.O_RDONLY)
            try:
                self._map = mmap.mmap(descriptor, 2 * _COPY_BYTES, access=mmap.ACCESS_READ)
            finally:
                os.close(descriptor)

    @classmethod
    def of_connection(cls, connection: Any) -> CommitCounter | None:
        """The counter of a sqlite3 connection's main database, when it is a file in WAL mode."""
        cursor = connection.cursor()
        try:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            files = {name: path for _, name, path in cursor.execute("PRAGMA database_list")}
        finally:
            cursor.close()
        if str(mode).lower() != "wal" or not files.get("main"):
            return None
        counter = cls(files["main"])
        return counter if counter.value() is not None else None

    def value(self) -> int | None:
        """The change counter, or None when the header is not one this module knows (or a
        writer is between its two copies, which counts as a change)."""
        if self._map is None:
            return None
        first = self._map[0 : _HEADER.size]
        if first != self._map[_COPY_BYTES : _COPY_BYTES + _HEADER.size]:
            return None
        version, change, initialised = _HEADER.unpack(first)
        return change if version == _VERSION and initialised == 1 else None

    def close(self) -> None:
        """Unmap the file."""
        if self._map is not None:
            self._map.close()
            self._map = None
