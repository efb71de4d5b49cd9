"""The background writer: batches records into one transaction each, spools them in an outage.

Agent code hands finished records to `submit`, which only queues them. A thread takes what
queues within `batch_wait_s` of the first record (up to `batch_size`; a `flush` ends the wait)
and writes it in one transaction (`write_batch`): records that trickle in share a transaction
instead of paying one each, which also keeps the thread off the agent's interpreter lock. When
the database cannot be reached, the batch goes to the spool (fsync'd) and the writer retries every
`retry_interval_s`, replaying the spool, each record exactly once, when the database is back.
A record is durable once its batch commits or is spooled; `flush` waits for that, and `close`
(also run at exit, and a flush on SIGTERM/SIGINT: `shutdown`) flushes, replays what it can and
stops the thread. Until then the write-ahead `journal` keeps every run's start and record on
disk, so a process that is killed loses none: the next writer for the database recovers them.
Runs still going when the process exits are recorded as cut off. Until its batch commits, a
record's cost counts in `pending`, which the hard-stop check adds to the database's spend.
Records are range-checked before they are written: one the columns cannot hold is set aside with
the reason (see `spool`), the rest of its batch written. The kit's tables are created on first
use (`init_db`, which leaves an AgentOS database as it is).
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from sqlalchemy.engine import URL

from aa_notebooks.budgets.delivery import (
    AlertNotifier,
    deliver_in_background,
    wait_for_deliveries,
)
from aa_notebooks.db.engine import file_identity, get_engine, in_memory, reopen, use_wal
from aa_notebooks.db.schema import ExecutionStatus
from aa_notebooks.db.setup import init_db
from aa_notebooks.db.url import is_sqlite, mask_url, resolve_url
from aa_notebooks.errors import InvalidInputError, first_line
from aa_notebooks.tracking import shutdown
from aa_notebooks.tracking.in_flight import HEARTBEAT_EVERY_S, RECORD_LOST_AFTER_S, InFlight
from aa_notebooks.tracking.journal import HEARTBEAT_S, Journal, recover
from aa_notebooks.tracking.outage import OutageNotice, is_outage, notice_for, refuses_writes
from aa_notebooks.tracking.pending import PendingSpend
from aa_notebooks.tracking.record import CUT_OFF, ExecutionRecord
from aa_notebooks.tracking.run import Run
from aa_notebooks.tracking.spool import (
    Spool,
    database_directory,
    default_spool_dir,
    earlier_spool,
    warn_of_other_spools,
)
from aa_notebooks.tracking.store import clean_text, write_batch

log = logging.getLogger(__name__)

BATCH_WAIT_S = 0.05
"""How long the writer waits for more records after the first before writing a batch."""


class _DatabaseDown(Exception):
    """The database could not be used; the records in hand must be kept."""


class _Flush:
    """A marker in the queue: everything before it is durable once `done` is set."""

    def __init__(self, stop: bool = False) -> None:
        self.done = threading.Event()
        self.stop = stop


class BatchWriter:
    """Writes execution records in batches from a background thread, durably and at most once."""

    def __init__(
        self,
        url: str | URL | None = None,
        *,
        spool_dir: str | Path | None = None,
        batch_size: int = 2000,
        retry_interval_s: float = 2.0,
        batch_wait_s: float = BATCH_WAIT_S,
        notice: OutageNotice | None = None,
        on_alerts: AlertNotifier = deliver_in_background,
        heartbeat_every_s: float = HEARTBEAT_EVERY_S,
        record_lost_after_s: float = RECORD_LOST_AFTER_S,
    ) -> None:
        """`heartbeat_every_s` and `record_lost_after_s` govern the runs in flight (`in_flight`)."""
        self.url = resolve_url(url)
        self.on_alerts = on_alerts
        """Told after a batch recorded budget alerts (default: emails and posts them from a
        background thread), once the batch's records have left `pending`."""
        self._alerts_due = False
        self.batch_size = batch_size
        self.retry_interval_s = retry_interval_s
        self.batch_wait_s = batch_wait_s
        root = Path(spool_dir) if spool_dir is not None else default_spool_dir()
        self.spool = Spool(database_directory(root, self.url))
        self._earlier = earlier_spool(root, self.url)  # replayed too, then left empty
        warn_of_other_spools(root, self.url)
        self.journal = Journal(self.spool.directory)
        self.pending = PendingSpend()
        """Cost of the records submitted and not committed yet, for the hard-stop check."""
        self.notice = notice or notice_for(mask_url(self.url))
        self._engine = get_engine(self.url)
        self.in_flight = InFlight(self._engine, heartbeat_every_s, record_lost_after_s)
        """The runs in flight that this writer keeps in the database, and their heartbeat."""
        self._queue: queue.SimpleQueue[ExecutionRecord | _Flush] = queue.SimpleQueue()
        self._retry_at: float | None = 0.0  # when to try the spool next; None: nothing to replay
        self._writes_refused = False  # the last outage was refused writes, not a lost database
        self._running: dict[object, Run] = {}
        self._cut_off: set[object] = set()  # runs recorded as cut off that may still end
        self._handled = 0  # records taken from the queue and committed, spooled or set aside
        self.refused = 0
        """Records the database refused for good, set aside in the spool's rejected file."""
        self._beat_at = 0.0
        self._closed = False
        self._schema_ready = False
        self._file = _sqlite_file(self.url)
        self._file_id: tuple[int, int] | None = None  # the SQLite file the schema was made in
        self._thread = threading.Thread(target=self._loop, name="aa-notebooks-writer", daemon=True)
        self._thread.start()
        atexit.register(self._at_exit)
        shutdown.watch(self)

    def started(self, run: Run) -> None:
        """Note a run that starts, in the journal: if the process dies, it is not forgotten."""
        if not self._closed:
            self._running[run.id] = run
            self.journal.started(run.start_row())

    def submit(self, record: ExecutionRecord) -> None:
        """Queue a record for writing; after `close`, write (or spool) it at once instead.

        A run recorded as cut off (a signal came while it was going) that then ends after all,
        in a thread the signal did not stop, replaces its cut-off record."""
        self._running.pop(record.id, None)
        if self._cut_off and record.id in self._cut_off:
            self._cut_off.discard(record.id)
            record = replace(record, replaces=(record.id,))
        self._enqueue(record)

    def _enqueue(self, record: ExecutionRecord) -> None:
        if self._closed:
            self._thread.join()  # never write beside the thread while it finishes
            self._handle([record])
            self._tell_alerts()
            return
        self.pending.add(record)
        self.journal.finished(record, lambda: self._queue.put(record))

    def stopping(self, cut_off: str | None, timeout: float) -> None:
        """The process is told to stop: flush, after recording the runs still going as cut off
        (`cut_off` says why) when it is about to end at once."""
        if self._closed:
            return
        if cut_off is not None:
            self._cut_off_running(cut_off)
        self.flush(timeout)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every record submitted so far is committed or spooled; retries the spool.

        Returns False when `timeout` (seconds) ran out first.
        """
        if self._closed:
            return True
        marker = _Flush()
        self._queue.put(marker)
        return marker.done.wait(timeout)

    def close(self, timeout: float | None = None) -> None:
        """Flush, replay what the database takes, stop the thread and release the spool."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self._at_exit)
        marker = _Flush(stop=True)
        self._queue.put(marker)
        marker.done.wait(timeout)
        self._thread.join(timeout)
        wait_for_deliveries(timeout)  # the alerts of the last batches, as at exit
        self.spool.close()
        if not self._thread.is_alive():
            self.journal.close()

    def _at_exit(self) -> None:
        """At interpreter exit: runs still going (in daemon threads) are cut off; then close."""
        self._cut_off_running("the process exited while the run was going")
        self.close()

    def _cut_off_running(self, why: str) -> None:
        """Record the runs still going as cut off; one that cannot be (an error in its own
        values) is logged and left to the journal, never keeping the others from the flush."""
        for run in list(self._running.values()):
            self._cut_off.add(run.id)  # first: the run may end in its own thread meanwhile
            self._running.pop(run.id, None)
            try:
                record = run.finish(ExecutionStatus.failure, CUT_OFF, why)
            except Exception as error:
                log.error("run %s not recorded as cut off: %s", run.id, error)
                continue
            self._enqueue(record)

    @property
    def spooling(self) -> bool:
        """Whether records are waiting in the spool for the database to come back."""
        return self._retry_at is not None and self.spool.has_own_records()

    @property
    def unreadable(self) -> bool:
        """Whether the database is out of reach (spooling for any other cause than refused
        writes): hard-stop checks, which only read, are then skipped rather than each wait."""
        return self.spooling and not self._writes_refused

    def _loop(self) -> None:
        while True:
            items = self._take()
            markers = [item for item in items if isinstance(item, _Flush)]
            records = [item for item in items if isinstance(item, ExecutionRecord)]
            try:
                try:
                    self._handle(records)
                finally:
                    self._settle(records)
                if markers or (self._retry_at is not None and time.monotonic() >= self._retry_at):
                    self._replay()
            except Exception:
                log.exception("aa-notebooks writer: unexpected error; retrying the spool later")
                self._retry_at = time.monotonic() + self.retry_interval_s
            self._tell_alerts()
            for marker in markers:
                marker.done.set()
            if any(marker.stop for marker in markers):
                return

    def _settle(self, records: Sequence[ExecutionRecord]) -> None:
        """Queued records handled: their cost leaves `pending`, the journal drops them."""
        if records:
            self.pending.remove(records)
            self._handled += len(records)
            self.journal.settle(self._handled)
        if time.monotonic() >= self._beat_at:
            self.journal.heartbeat()
            self._beat_at = time.monotonic() + HEARTBEAT_S
        self._keep_in_flight()

    def _keep_in_flight(self) -> None:
        """Mark long runs as running, renew their heartbeat, record dead processes' runs; an
        error here (an outage) only waits for the next wake-up: records never depend on it."""
        if self._retry_at is not None and self.spool.has_own_records():
            return
        try:
            self._ensure_schema()
            self.in_flight.tick(list(self._running.values()), self._write_ending)
        except Exception as error:
            log.debug("runs in flight not updated now: %s", first_line(error, type(error).__name__))

    def _write_ending(self, records: Sequence[ExecutionRecord]) -> None:
        """Write records that end runs in flight whoever marked them (recovered, lost)."""
        self._write(records, [record.id for record in records])

    def _take(self) -> list[ExecutionRecord | _Flush]:
        """Block for the first item (or the next retry or heartbeat), then take what queues
        within `batch_wait_s` of it, up to `batch_size` records or a flush marker."""
        wait = HEARTBEAT_S
        if self._retry_at is not None:
            wait = min(wait, max(0.0, self._retry_at - time.monotonic()))
        try:
            items = [self._queue.get(timeout=wait)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.batch_wait_s
        while len(items) < self.batch_size and not isinstance(items[-1], _Flush):
            try:
                items.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        return items

    def _handle(self, records: Sequence[ExecutionRecord]) -> None:
        """Write a batch, or spool it while the database is unreachable."""
        if not records:
            return
        if self._retry_at is not None and self.spool.has_own_records():
            self._keep(records)  # still down: queue behind what is spooled already
            return
        try:
            self._write(records)
        except _DatabaseDown:
            self._keep(records)

    def _keep(self, records: Sequence[ExecutionRecord]) -> None:
        try:
            self.spool.append(records)
        except OSError as error:
            log.critical("cannot spool %d records: %s; they are lost", len(records), error)

    def _replay(self) -> None:
        """Write what the spool and dead writers' journals hold; on an outage, try again after
        `retry_interval_s`."""
        try:
            count = self.spool.replay(self._write, self.batch_size)
            recover(self.spool, self._write_ending, self.batch_size)
            if self._earlier is not None:
                count += self._earlier.replay(self._write, self.batch_size)
                recover(self._earlier, self._write_ending, self.batch_size)
        except _DatabaseDown:
            return
        if count:
            log.info("database %s: %d spooled records replayed", self._shown, count)
        self._retry_at = None

    def _write(
        self, records: Sequence[ExecutionRecord], running: Sequence[uuid.UUID] | None = None
    ) -> None:
        """Write records, deleting the running rows of `running` (default: those this writer
        marked); ones out of range, or that the database refuses for good, are set aside in the
        spool's rejected file.

        Raises _DatabaseDown (and schedules a retry) when the database cannot be used.
        """
        ending = self.in_flight.stored(records) if running is None else running
        try:
            self._check_file()
            self._ensure_schema()
        except Exception as error:  # no table to refuse a record yet: keep them all for later
            self._went_down(error)
            raise _DatabaseDown from error
        try:
            if ending and not self.in_flight.enabled:  # an AgentOS database: no such rows
                ending = []
            result = write_batch(self._engine, records, ending)
        except Exception as error:
            if is_outage(error):
                self._went_down(error)
                raise _DatabaseDown from error
            if len(records) == 1:
                if clean_text(records[0]):  # a NUL or half an emoji: once more, cleaned
                    self._write(records, ending)
                else:
                    self._reject(records[0], error)
                return
            if isinstance(error, InvalidInputError):  # a value out of range: find the records
                if kept := self._in_range(records):
                    self._write(kept, _among(ending, kept))
                return
            for record in records:  # find the refused ones; the others are written
                self._write([record], _among(ending, [record]))
            return
        self.notice.came_back()
        self.in_flight.cleared(ending)
        if log.isEnabledFor(logging.DEBUG):
            ids = [str(record.id) for record in records]
            log.debug("committed %d records", len(ids), extra={"execution_ids": ids})
        if result.alerts:
            self._alerts_due = True  # told once the records have left `pending` (`_loop`)

    def _in_range(self, records: Sequence[ExecutionRecord]) -> Sequence[ExecutionRecord]:
        """The records whose values their columns hold; the others are set aside with why."""
        kept = []
        for record in records:
            try:
                record.check()
            except InvalidInputError as error:
                self._reject(record, error)
                continue
            kept.append(record)
        return kept

    def _ensure_schema(self) -> None:
        """Create the kit's tables on first use, and again after an outage (the database may
        come back empty: dropped and created again); never altering an AgentOS database."""
        if not self._schema_ready:
            init_db(self.url)
            use_wal(get_engine(self.url))  # an attached SQLite file: write beside its readers
            self._file_id = None if self._file is None else file_identity(self._file)
            self._schema_ready = True

    def _check_file(self) -> None:
        """An SQLite file removed (or replaced) while recording: its open connections would
        write on into the removed file, lost with it. They are closed, and the records go to
        the file at that path, made anew with the kit's tables when missing."""
        if (
            self._file is None
            or not self._schema_ready
            or file_identity(self._file) == self._file_id
        ):
            return
        log.warning(
            "database file %s was removed or replaced while recording; recording goes on in "
            "the file at that path (a new one, when none is there)",
            self._file,
        )
        reopen(self._engine.url)  # the autocommit twin too, which the hard-stop check reads
        self._schema_ready = False

    def _tell_alerts(self) -> None:
        """Hand the budget alerts the last batches made due to `on_alerts`, after their records
        left `pending`: until then the hard-stop check would count their cost twice (stored and
        pending), and a slow `on_alerts` would stretch that. Its failure never stops recording."""
        if not self._alerts_due:
            return
        self._alerts_due = False
        try:
            self.on_alerts(self.url)
        except Exception as error:
            log.warning(
                "budget alerts not delivered now (%s); `aa-notebooks budgets evaluate` sends them",
                error,
            )

    def _went_down(self, error: BaseException) -> None:
        self._schema_ready = False  # checked again when it comes back
        self._writes_refused = refuses_writes(error)
        self.notice.went_down(
            error,
            f"runs go ahead and their records are spooled in {self.spool.directory}, "
            f"retried every {self.retry_interval_s} s",
        )
        self._retry_at = time.monotonic() + self.retry_interval_s

    def _reject(self, record: ExecutionRecord, error: BaseException) -> None:
        self.refused += 1
        log.error(
            "execution %s refused by the database: %s",
            record.id,
            first_line(error, type(error).__name__),
        )
        try:
            self.spool.reject(record, error)
        except OSError as failure:
            log.critical("cannot keep refused execution %s: %s", record.id, failure)

    @property
    def _shown(self) -> str:
        return mask_url(self.url)


def _among(ids: Sequence[uuid.UUID], records: Sequence[ExecutionRecord]) -> list[uuid.UUID]:
    """The ids in `ids` of some of the records."""
    wanted = set(ids)
    return [record.id for record in records if record.id in wanted]


def _sqlite_file(url: URL) -> Path | None:
    """The SQLite file a URL names (None for a server, memory, or a `file:` URI)."""
    database = url.database or ""
    if not is_sqlite(url) or in_memory(url) or database.startswith("file:"):
        return None
    return Path(database).absolute()  # as SQLAlchemy opens it: a later chdir changes nothing
