"""The active hard-stop budgets of a database, kept in memory until a budget changes anywhere.

The hard-stop check runs before every execution; budgets change a few times a month. So each
process keeps the active hard stops of each database and reads them again only when the budget
generation moved (`db.budget_generation`: triggers on budgetalerts bump it in the transaction
that creates, deletes or redefines a budget, whichever process or program does it).

- SQLite: the check reads the generation (one row of a tiny table, in process) on a connection
  kept open for it, and compares it with the one its copy was read at. Checking a connection
  out of the pool and back for each read cost ten times the read itself. A read stays current
  for FRESH_SECONDS: the read itself is cheap, but it lets the writer thread take the
  interpreter lock, which cost a saturated tracker a fifth of its rate when every run read.
- PostgreSQL: a background thread LISTENs on the generation's channel, which the trigger
  notifies at commit, and counts the notifications; a check compares counts and needs no round
  trip. A budget committed by another process counts once its notification has arrived (well
  under a millisecond on a local server). While the listener is not connected (starting, or
  after losing the server) every check reads the budgets, as without a cache.

The generation is read before the budgets, so a change that lands in between makes the next
check read them again: a copy is never taken for newer than it is. A budget changed through this
process's own functions (`crud`) drops the copy at once, notification or not.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event, inspect, select

from aa_notebooks.budgets.capabilities import Capabilities
from aa_notebooks.budgets.model import Budget
from aa_notebooks.budgets.scope import BUDGETS
from aa_notebooks.budgets.store import ACTIVE, budgets_query
from aa_notebooks.db.budget_generation import CHANNEL, GENERATION_TABLE
from aa_notebooks.db.driver_sql import DriverStatement, driver_fetch
from aa_notebooks.db.engine import autocommit_engine, in_memory
from aa_notebooks.db.schema import BudgetAlertType, BudgetGeneration, table_of

logger = logging.getLogger("aa_notebooks.budgets")
GENERATION = table_of(BudgetGeneration)
RECONNECT_SECONDS = 1.0
"""How long the listener waits before connecting again after losing the server."""
FRESH_SECONDS = 0.001
"""On SQLite, how long a read of the generation answers later checks: a budget committed by
another process counts within this (its runs' spend counts only after a batch window anyway)."""
_clock = time.perf_counter
WAIT_SECONDS = 0.5
"""How long the listener waits for a notification before looking whether it should stop."""
_HARD_STOPS = ACTIVE & (BUDGETS.c.alert_type == BudgetAlertType.hard_stop)
_READ_GENERATION = select(GENERATION.c.generation).where(GENERATION.c.id == 1)


@dataclass(frozen=True)
class _Copy:
    generation: int
    budgets: tuple[Budget, ...]


class HardStops:
    """One database's active hard-stop budgets, read again when the generation moved."""

    def __init__(self, engine: Engine, capabilities: Capabilities) -> None:
        self._engine = engine
        self._capabilities = capabilities
        self.pid = os.getpid()
        """The process that made it: a forked child makes its own (the listener thread is not
        forked with it, so the parent's copy would never be told of a change)."""
        self._copy: _Copy | None = None
        self.closed = False
        """Whether `close` ran (its engine was disposed): `hard_stops` makes a new one."""
        self._counted = inspect(engine).has_table(GENERATION_TABLE)
        """Whether the database keeps the generation (not one from before it, until init-db)."""
        postgres = engine.dialect.name == "postgresql"
        self._listener = _Listener(engine) if postgres and self._counted else None
        self._held = _HeldReader(engine) if not postgres and self._counted else None
        self._fresh: tuple[float, int] | None = None
        """When the generation was last read on SQLite (monotonic seconds), and its value."""

    @property
    def serves_here(self) -> bool:
        """Whether this process may use it: made here (not by a forked parent) and not closed."""
        return self.pid == os.getpid() and not self.closed

    @property
    def trusted(self) -> bool:
        """Whether a copy can be kept now (False before the listener is connected, after it lost
        the server, and in a database without the generation)."""
        return self._generation() is not None

    def forget(self) -> None:
        """Drop the copy and the last generation read: the next check reads both (a check in
        another thread may be storing a copy read just before the change)."""
        self._fresh = None
        self._copy = None

    def close(self) -> None:
        """Stop listening (the engine was disposed); checks read the budgets each time."""
        self.closed = True
        if self._listener is not None:
            self._listener.stop()
        if self._held is not None:
            self._held.close()

    def current(self) -> tuple[Budget, ...]:
        """The active hard-stop budgets as committed when this call began (or later), except
        that on SQLite a budget committed by another process may take FRESH_SECONDS."""
        generation = self._generation()
        copy = self._copy
        if copy is not None and generation is not None and copy.generation == generation:
            return copy.budgets
        budgets = self._read()
        if generation is not None:
            self._copy = _Copy(generation, budgets)
        return budgets

    def _generation(self) -> int | None:
        """The generation to compare copies by; None when it cannot be known (no caching)."""
        if not self._counted:
            return None
        if self._listener is not None:
            return self._listener.generation()
        asked = _clock()
        fresh = self._fresh
        if fresh is not None and asked - fresh[0] < FRESH_SECONDS:
            return fresh[1]
        rows = self._held.fetch() if self._held is not None else None
        if rows is None:  # no held connection (an in-memory database), or it failed
            rows = driver_fetch(self._engine, _READ_GENERATION, {})
        generation = int(rows[0][0]) if rows else None
        self._fresh = None if generation is None else (asked, generation)
        return generation

    def _read(self) -> tuple[Budget, ...]:
        query = budgets_query(self._capabilities.budget_columns, _HARD_STOPS, False)
        names = list(query.selected_columns.keys())
        rows = driver_fetch(self._engine, query, {})
        return tuple(Budget.from_row(dict(zip(names, row, strict=True))) for row in rows)


class _HeldReader:
    """The generation read on one autocommit SQLite connection kept checked out of the pool
    (shared by threads under a lock: sqlite3 serialises its calls anyway). Any driver error
    drops the connection and returns None, so the caller reads through `driver_fetch`, which
    raises it as SQLAlchemy does; the next read takes a new connection."""

    def __init__(self, engine: Engine) -> None:
        self._readers = None if in_memory(engine.url) else autocommit_engine(engine)
        statement = DriverStatement.of(engine.dialect, _READ_GENERATION, ())
        self._sql, self._parameters = statement.sql, statement.parameters({})
        self._lock = threading.Lock()
        self._connection: Any = None

    def fetch(self) -> list[tuple[Any, ...]] | None:
        """The generation's rows, or None when they could not be read here."""
        if self._readers is None:
            return None
        with self._lock:
            try:
                if self._connection is None:
                    self._connection = self._readers.raw_connection()
                cursor = self._connection.cursor()
                try:
                    return list(cursor.execute(self._sql, self._parameters).fetchall())
                finally:
                    cursor.close()
            except self._readers.dialect.loaded_dbapi.Error:
                self._drop(broken=True)
                return None

    def close(self) -> None:
        """Give the connection back to its pool."""
        with self._lock:
            self._drop(broken=False)

    def _drop(self, *, broken: bool) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with suppress(Exception):  # a broken connection has nothing more to release
                if broken:
                    connection.invalidate()
                else:
                    connection.close()


_known: weakref.WeakKeyDictionary[Engine, HardStops] = weakref.WeakKeyDictionary()
_known_lock = threading.Lock()
_last: tuple[weakref.ref[Engine], HardStops] | None = None
"""The engine asked for last and its HardStops: a check runs before every execution, and a
weak dictionary's lookup makes a weak reference each time."""


def hard_stops(engine: Engine, capabilities: Capabilities) -> HardStops:
    """The process's HardStops of this engine's database (made on first use; its listener
    stops when the engine is disposed)."""
    global _last
    last = _last
    if last is not None and last[0]() is engine and last[1].serves_here:
        return last[1]
    found = _known.get(engine)
    if found is None or not found.serves_here:
        with _known_lock:
            found = _known.get(engine)
            if found is None or not found.serves_here:  # none yet, a fork's parent's, or closed
                found = _known[engine] = HardStops(engine, capabilities)
                if not event.contains(engine, "engine_disposed", _forget):
                    event.listen(engine, "engine_disposed", _forget)
    with _known_lock:  # not one `_forget` has just dropped
        if _known.get(engine) is found:
            _last = (weakref.ref(engine), found)
    return found


def budgets_changed(engine: Engine) -> None:
    """This process changed a budget: its next check reads them again (other processes learn
    of it from the generation)."""
    found = _known.get(engine)
    if found is not None:
        found.forget()


def _forget(engine: Engine) -> None:
    global _last
    with _known_lock:
        found = _known.pop(engine, None)
        _last = None
    if found is not None:
        found.close()


class _Listener:
    """A daemon thread LISTENing on the generation's channel on its own connection, counting
    notifications (and each new connection, since changes may have been missed meanwhile)."""

    def __init__(self, engine: Engine) -> None:
        self._url = engine.url
        self._count = 0
        self._listening = False
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="aa-budget-listener", daemon=True)
        self._thread.start()

    def generation(self) -> int | None:
        """How many changes were heard, or None while not listening."""
        with self._lock:
            return self._count if self._listening else None

    def stop(self) -> None:
        """End the thread (within WAIT_SECONDS) and its connection."""
        self._stopped.set()

    def _run(self) -> None:
        import psycopg

        url = self._url.set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        while not self._stopped.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self._heard(listening=True)
                    while not self._stopped.is_set():
                        for _ in connection.notifies(timeout=WAIT_SECONDS):
                            self._heard(listening=True)
            except Exception as error:  # the server went away: check without the cache
                logger.debug("the budget listener lost its connection: %s", error)
            self._heard(listening=False)
            self._stopped.wait(RECONNECT_SECONDS)

    def _heard(self, *, listening: bool) -> None:
        with self._lock:
            self._count += 1
            self._listening = listening
