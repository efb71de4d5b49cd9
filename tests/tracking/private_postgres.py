"""A throwaway PostgreSQL server of a test's own, to stop and start at will.

It runs as the `postgres` system user from a temporary directory, on a free port, with trust
authentication on 127.0.0.1 only; the shared test cluster is never touched.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class PrivatePostgres:
    """One initdb'd data directory and the commands that start and stop its server."""

    def __init__(self, root: Path, bindir: Path) -> None:
        self.root = root
        self.bindir = bindir
        self.data = root / "data"
        self.port = _free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/aa_outage"

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.root / "server.log"), "-o", options)

    def stop(self) -> None:
        """Stop the server at once, as a crash would (`-m immediate`)."""
        self._pg_ctl("stop", "-w", "-m", "immediate")

    def _pg_ctl(self, *args: str) -> None:
        self._as_postgres(str(self.bindir / "pg_ctl"), "-D", str(self.data), *args)

    def _as_postgres(self, *command: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True,
                       capture_output=True, cwd=self.root)  # fmt: skip


def available() -> str | None:
    """Why a private server cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "needs root, to run initdb and pg_ctl as the postgres user"
    if shutil.which("runuser") is None:
        return "runuser is not installed"
    if _bindir() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) are not installed"
    try:
        subprocess.run(["id", "postgres"], check=True, capture_output=True)
    except subprocess.CalledProcessError:
        return "there is no postgres system user"
    return None


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A running private server with an empty database `aa_outage`; removed afterwards."""
    bindir = _bindir()
    assert bindir is not None
    root = Path(tempfile.mkdtemp(prefix="aa-outage-"))
    shutil.chown(root, "postgres", "postgres")
    server = PrivatePostgres(root, bindir)
    try:
        server._as_postgres(str(bindir / "initdb"), "-D", str(server.data), "-U", "postgres",
                            "-A", "trust", "--no-sync")  # fmt: skip
        server.start()
        server._as_postgres(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(server.port),
                            "-U", "postgres", "aa_outage")  # fmt: skip
        yield server
    finally:
        stop = [str(bindir / "pg_ctl"), "-D", str(server.data), "stop", "-m", "immediate"]
        subprocess.run(["runuser", "-u", "postgres", "--", *stop], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
