"""`Ingestor`: spans in, executions out through the tracker's durable batched writer.

Spans are grouped by trace. A trace that arrives whole in one call (every span's ancestry reaches
its root) and has nothing staged (by any process: `serve --workers` shares the staging table) is
mapped and handed to the writer at once: the common case costs one lookup per call. The
others are staged in the database (`staging`), and written when they become whole, or when no
span of theirs has arrived for `hold_s` (what is known then is written); a span arriving later
rewrites its trace's executions, which replace the ones written before (same ids).
An agent span that arrives before its children (they end after it, in async code) looks whole
alone: it is held like a partial trace until something under it arrives, or the hold passes.

Back-pressure: at most `max_backlog` records wait in the writer; past that, a call waits for
the writer to commit (up to `max_wait_s`) and otherwise raises `Saturated` (HTTP 429 with
Retry-After), so a client faster than the database slows down instead of filling memory. While
the database is down the writer spools to disk; when the spool's disk is nearly full, `Saturated`
too (503).
"""

from __future__ import annotations

import logging
import shutil
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import bindparam, select
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from aa_notebooks.db.bulk import check_rows
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import AgentExecution, ExecutionTrace, TokenUsage, table_of
from aa_notebooks.db.setup import init_db
from aa_notebooks.errors import ConfigurationError, InvalidInputError
from aa_notebooks.otel.mapping import Filing, Mapped, execution_ids, is_whole, map_trace
from aa_notebooks.otel.spans import Span
from aa_notebooks.otel.staging import Staging, TraceKey
from aa_notebooks.tracking.record import ExecutionRecord
from aa_notebooks.tracking.writer import BatchWriter

log = logging.getLogger(__name__)

HOLD_S = 60.0
"""How long a trace that is not whole waits for its missing spans after its last one arrived."""
LINGER_S = 600.0
"""How long a written trace's spans stay staged, so that a late span rewrites it."""
MAX_BACKLOG = 20_000
"""Records handed to the writer and not committed yet, at most (about 8 spans each)."""
MAX_WAIT_S = 5.0
MIN_SPOOL_FREE_BYTES = 64 * 1024 * 1024
RECENT_WHOLE = 100_000
"""Executions of whole traces handed to the writer that the ingestor remembers: a span of one
that comes before the writer commits it is refused as late, as one that comes after is."""
ADMIN = "admin"
NO_STAGING = (
    "spans of traces that are not whole in one request need the kit's staging table, which "
    "this database lacks (an attached AgentOS database); send whole traces (a larger exporter "
    "batch), or ingest into the kit's own database"
)

WRITTEN_BEFORE = (
    "spans of a trace whose run was written before they came (the trace arrived whole in one "
    "request or in an earlier file ingest, or its other spans came over 10 minutes earlier, "
    "after which the receiver forgets them): a span that late is not added to it"
)

_EXECUTIONS, _TRACES, _USAGES = (table_of(m) for m in (AgentExecution, ExecutionTrace, TokenUsage))
_ID = _EXECUTIONS.c.id
_STORED_AMONG = select(_ID).where(_ID.in_(bindparam("ids", expanding=True))).limit(1)


class Saturated(Exception):
    """The writer cannot take more now; retry after `retry_after_s` seconds."""

    def __init__(self, message: str, retry_after_s: int, status: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.status = status


@dataclass
class Outcome:
    """What became of a call's spans."""

    spans: int = 0
    executions: int = 0
    ignored: int = 0
    staged: int = 0
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)

    def add(self, other: Outcome) -> None:
        """Add another call's counts to these."""
        self.spans += other.spans
        self.executions += other.executions
        self.ignored += other.ignored
        self.staged += other.staged
        self.rejected += other.rejected
        self.reasons.extend(r for r in other.reasons if r not in self.reasons)


def owner_of(user_id: uuid.UUID | None) -> str:
    """The staging owner of a caller: a user token's user, else the admin."""
    return ADMIN if user_id is None else str(user_id)


class Ingestor:
    """Maps spans to executions and writes them through a BatchWriter, staging partial traces."""

    def __init__(
        self,
        url: str | URL | None = None,
        *,
        writer: BatchWriter | None = None,
        spool_dir: str | Path | None = None,
        hold_s: float = HOLD_S,
        linger_s: float = LINGER_S,
        max_backlog: int = MAX_BACKLOG,
        max_wait_s: float = MAX_WAIT_S,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        init_db(url)  # the kit's tables (staging included); an AgentOS database is left alone
        self.engine = get_engine(url)
        self.writer = writer if writer is not None else BatchWriter(url, spool_dir=spool_dir)
        self._own_writer = writer is None
        self.hold_s, self.linger_s = hold_s, linger_s
        self.max_backlog, self.max_wait_s = max_backlog, max_wait_s
        self.clock = clock
        self.staging = Staging(self.engine)
        self._staging_lock = threading.Lock()
        self._backlog_lock = threading.Lock()
        self._backlog = 0
        self._recent_whole: OrderedDict[uuid.UUID, None] = OrderedDict()
        self._sweeper: threading.Thread | None = None
        self._stop = threading.Event()

    def ingest(self, spans: Sequence[Span], user_id: uuid.UUID | None = None) -> Outcome:
        """Map and write (or stage) spans sent by `user_id`'s token (None: an admin's, whose
        spans keep their own user.id)."""
        self._admit()
        owner = owner_of(user_id)
        filing = Filing(user_id)
        outcome = Outcome(spans=len(spans))
        traces: dict[str, list[Span]] = {}
        for span in spans:
            traces.setdefault(span.trace_id, []).append(span)
        whole = {trace_id for trace_id, members in traces.items() if is_whole(members)}
        if self.staging.available:  # a trace staged by an earlier call, or another process
            whole -= self.staging.staged_among(owner, whole)
        for trace_id, members in traces.items():
            key = (owner, trace_id)
            if trace_id in whole:
                mapped = map_trace(members, filing)
                if not self.staging.available or all(r.traces for r in mapped.records):
                    self._remember_whole(mapped)  # first: the writer may commit at once
                    self._submit(mapped, (), outcome)
                    continue
            if not self.staging.available:
                outcome.rejected += len(members)
                if NO_STAGING not in outcome.reasons:
                    outcome.reasons.append(NO_STAGING)
            else:
                self._stage(key, members, filing, outcome)
        return outcome

    def sweep(self) -> Outcome:
        """Write the staged traces whose hold has passed; forget those written long enough ago."""
        outcome = Outcome()
        if not self.staging.available:
            return outcome
        now = self.clock()
        for key in self.staging.due(now, self.hold_s):
            try:
                self._write_staged(key, outcome)
            except (SQLAlchemyError, ConfigurationError):  # the database, the settings: every
                raise  # trace waits for the next sweep
            except Exception as error:  # this trace alone: the held ones behind it still go
                log.warning(
                    "otel ingest: held trace %s could not be mapped (%s: %s) and is dropped",
                    key[1], type(error).__name__, error,
                )  # fmt: skip
                with self._staging_lock:
                    self.staging.mark_written(key, (), self.clock())
        with self._staging_lock:
            self.staging.release(now, self.linger_s)
        return outcome

    def write_unwritten(self, user_id: uuid.UUID | None = None) -> Outcome:
        """Write every staged trace of this caller now and forget it (the end of a file ingest,
        which has every span there is)."""
        outcome = Outcome()
        if not self.staging.available:
            return outcome
        keys = self.staging.unwritten(owner_of(user_id))
        for key in keys:
            self._write_staged(key, outcome)
        with self._staging_lock:
            self.staging.release_all(keys)
        return outcome

    def start_sweeper(self, interval_s: float | None = None) -> None:
        """Sweep in a background thread every `interval_s` (default: a tenth of the hold)."""
        if self._sweeper is not None or not self.staging.available:
            return
        interval = interval_s if interval_s is not None else max(0.5, min(self.hold_s / 10, 10))

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.sweep()
                except Exception as error:  # the database may be down: try again next time
                    log.warning("otel ingest: staged traces not swept now (%s)", error)

        self._sweeper = threading.Thread(target=loop, name="aa-notebooks-otel-sweeper", daemon=True)
        self._sweeper.start()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every record handed to the writer is committed or spooled."""
        done = self.writer.flush(timeout)
        if done:
            with self._backlog_lock:
                self._backlog = 0
        return done

    def close(self) -> None:
        """Stop sweeping; flush, and close the writer if this ingestor made it."""
        self._stop.set()
        if self._sweeper is not None:
            self._sweeper.join()
        if self._own_writer:
            self.writer.close()
        else:
            self.writer.flush()

    def _stage(self, key: TraceKey, spans: list[Span], filing: Filing, outcome: Outcome) -> None:
        with self._staging_lock:
            self.staging.stage(key[0], spans, self.clock())
            staged, state = self.staging.load(key)
            first = len(staged) == len(spans)  # an earlier call staged none of this trace
            if first and state.written_at is None and self._written_before(staged, filing):
                self.staging.release_all([key])
                outcome.rejected += len(spans)
                if WRITTEN_BEFORE not in outcome.reasons:
                    outcome.reasons.append(WRITTEN_BEFORE)
                return
            outcome.staged += len(spans)
            if state.written_at is not None or (is_whole(staged) and _filled(staged, filing)):
                self._write(key, staged, state.written_ids, filing, outcome)

    def _remember_whole(self, mapped: Mapped) -> None:
        with self._backlog_lock:
            for record in mapped.records:
                self._recent_whole[record.id] = None
            while len(self._recent_whole) > RECENT_WHOLE:
                self._recent_whole.popitem(last=False)

    def _written_before(self, spans: list[Span], filing: Filing) -> bool:
        """Whether a trace staged for the first time maps to executions stored already, or
        handed to the writer whole and maybe not committed yet: its other spans were written
        without staging (whole in one request, or by an earlier file ingest), so these would
        replace that run with a part of it. (Another process's whole trace counts once its
        writer commits it, within about a tenth of a second.)"""
        ids = execution_ids(spans, filing)
        if not ids:
            return False
        with self._backlog_lock:
            if any(found in self._recent_whole for found in ids):
                return True
        with self.engine.connect() as connection:
            return connection.execute(_STORED_AMONG, {"ids": ids}).first() is not None

    def _write_staged(self, key: TraceKey, outcome: Outcome) -> None:
        with self._staging_lock:
            staged, state = self.staging.load(key)
            if not staged:
                return
            filing = Filing(None if key[0] == ADMIN else uuid.UUID(key[0]))
            if not state.written_ids and self._written_before(staged, filing):
                # another process wrote the trace whole, and had not committed it when these
                # spans came here: they were taken, and cannot be added to it now
                log.warning("otel ingest: %d span(s) of trace %s dropped: %s", len(staged),
                            key[1], WRITTEN_BEFORE)  # fmt: skip
                outcome.rejected += len(staged)
                self.staging.release_all([key])
                return
            self._write(key, staged, state.written_ids, filing, outcome)

    def _write(
        self,
        key: TraceKey,
        spans: list[Span],
        written: Sequence[uuid.UUID],
        filing: Filing,
        outcome: Outcome,
    ) -> None:
        """Map a staged trace and submit it in place of what was written of it before."""
        mapped = map_trace(spans, filing)
        self._submit(mapped, written, outcome)
        self.staging.mark_written(key, (record.id for record in mapped.records), self.clock())

    def _submit(self, mapped: Mapped, written: Iterable[uuid.UUID], outcome: Outcome) -> None:
        """Hand the records to the writer; those written before replace their earlier selves
        (and the first also whatever earlier executions of the trace are gone now)."""
        earlier = set(written)
        ids = {record.id for record in mapped.records}
        obsolete = tuple(sorted(earlier - ids))
        submitted = 0
        for index, record in enumerate(mapped.records):
            if (problem := _unfit(record)) is not None:
                outcome.rejected += 1 + len(record.traces)  # its agent span and its steps'
                reason = f"an execution's sums do not fit their columns: {problem}"
                if reason not in outcome.reasons:
                    outcome.reasons.append(reason)
                continue
            replaces = ((record.id,) if record.id in earlier else ()) + (
                obsolete if index == 0 else ()
            )
            if replaces:
                record = replace(record, replaces=replaces)
            self.writer.submit(record)
            submitted += 1
        outcome.executions += submitted
        outcome.ignored += mapped.ignored
        with self._backlog_lock:
            self._backlog += submitted

    def _admit(self) -> None:
        """Wait for the writer while its backlog is full; Saturated when it stays full, or
        when the spool (the database being down) is running out of disk."""
        if self.writer.spooling:
            free = shutil.disk_usage(self.writer.spool.directory).free
            if free < MIN_SPOOL_FREE_BYTES:
                raise Saturated(
                    "the database is unreachable and the spool's disk is nearly full", 30, 503
                )
        if self._backlog < self.max_backlog:
            return
        if not self.flush(self.max_wait_s):
            raise Saturated(
                f"the database is behind by more than {self.max_backlog} executions", 2, 429
            )


def _unfit(record: ExecutionRecord) -> str | None:
    """Why the database would refuse the record's rows (each span's numbers were in range, but
    an execution's sums may not be: 4e9 tokens, $12,500), or None; said now, in the export's
    answer, rather than in the writer's log after a 200."""
    try:
        for table, rows in (
            (_EXECUTIONS, [record.execution]),
            (_TRACES, record.traces),
            (_USAGES, record.usages),
        ):
            check_rows(table, rows)
    except InvalidInputError as error:
        return str(error)
    return None


def _filled(spans: list[Span], filing: Filing) -> bool:
    """Whether every execution of a whole trace has steps: an agent span that arrived before
    its children (they end after it, in async code) looks whole alone, and is held for them."""
    return all(record.traces for record in map_trace(spans, filing).records)
