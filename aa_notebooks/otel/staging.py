"""The staging tables: spans of traces not written yet, held in the database, not in memory.

Batch span processors export a run's spans in several requests (children before their parent),
and a process may restart between them. Spans of a trace that is not whole are kept here, keyed
by who sent them and their trace and span ids (a resent span is stored once), until the trace is
whole or `hold_s` passes; once written, they stay `linger_s` longer so that a late span rewrites
its execution from all of them. Only the kit's own database has these tables.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, Table, and_, delete, inspect, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from aa_notebooks.budgets.transactions import write_transaction
from aa_notebooks.db.schema import OtelStagedSpan, OtelStagedTrace, table_of
from aa_notebooks.otel.spans import Span

SPANS = table_of(OtelStagedSpan)
TRACES = table_of(OtelStagedTrace)
TraceKey = tuple[str, str]
"""(owner, trace id)."""
BUSY_WAIT_MS = 3_000
"""How long staging waits for SQLite's write lock before the request is answered 503."""
_LOOKUP_CHUNK = 10_000
"""Trace ids per lookup statement (SQLite takes at most 32,766 parameters)."""


@dataclass(frozen=True)
class TraceState:
    """What was written of a staged trace, if anything."""

    written_at: datetime | None
    written_ids: tuple[uuid.UUID, ...]


class Staging:
    """Reads and writes the staging tables of one database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        tables = set(inspect(engine).get_table_names())
        self.available = {SPANS.name, TRACES.name} <= tables
        """False on a database the kit did not create (AgentOS): nothing can be held."""

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A write transaction that waits at most `BUSY_WAIT_MS` for SQLite's write lock (held
        by a seed, a reprice or a rollups rebuild): the request then answers 503 with
        Retry-After before an exporter gives up (10 s by default) and drops the batch."""
        with write_transaction(self.engine, busy_timeout_ms=BUSY_WAIT_MS) as connection:
            yield connection

    def staged_among(self, owner: str, trace_ids: Collection[str]) -> set[str]:
        """Which of these traces of `owner` have spans staged (one query: a request's traces
        are checked together, whichever server process staged them)."""
        ids = list(trace_ids)
        found: set[str] = set()
        if not ids:
            return found
        with self.engine.connect() as connection:
            for start in range(0, len(ids), _LOOKUP_CHUNK):
                chunk = ids[start : start + _LOOKUP_CHUNK]
                found.update(
                    connection.execute(
                        select(TRACES.c.trace_id).where(
                            TRACES.c.owner == owner, TRACES.c.trace_id.in_(chunk)
                        )
                    ).scalars()
                )
        return found

    def stage(self, owner: str, spans: Sequence[Span], now: datetime) -> None:
        """Keep the spans (one trace's; a span kept already stays as it was) and note when."""
        trace_id = spans[0].trace_id
        rows = [
            {"owner": owner, "trace_id": trace_id, "span_id": span.span_id,
             "span": json.dumps(span.to_document(), separators=(",", ":"))}
            for span in spans
        ]  # fmt: skip
        with self._writing() as connection:
            connection.execute(_insert(connection, SPANS).on_conflict_do_nothing(), rows)
            statement = _insert(connection, TRACES).values(
                owner=owner, trace_id=trace_id, last_seen=now
            )
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[TRACES.c.owner, TRACES.c.trace_id], set_={"last_seen": now}
                )
            )

    def load(self, key: TraceKey) -> tuple[list[Span], TraceState]:
        """The staged spans of a trace and what was written of it."""
        owner, trace_id = key
        with self.engine.connect() as connection:
            documents = connection.execute(
                select(SPANS.c.span).where(SPANS.c.owner == owner, SPANS.c.trace_id == trace_id)
            ).scalars()
            spans = [Span.from_document(json.loads(document)) for document in documents]
            row = connection.execute(
                select(TRACES.c.written_at, TRACES.c.written_ids).where(
                    TRACES.c.owner == owner, TRACES.c.trace_id == trace_id
                )
            ).first()
        if row is None:
            return spans, TraceState(None, ())
        ids = tuple(uuid.UUID(text) for text in (row.written_ids or "").split())
        return spans, TraceState(row.written_at, ids)

    def mark_written(self, key: TraceKey, ids: Iterable[uuid.UUID], now: datetime) -> None:
        """Note that the trace's executions `ids` were handed to the writer at `now`."""
        owner, trace_id = key
        with self._writing() as connection:
            connection.execute(
                update(TRACES)
                .where(TRACES.c.owner == owner, TRACES.c.trace_id == trace_id)
                .values(written_at=now, written_ids=" ".join(str(i) for i in ids))
            )

    def due(self, now: datetime, hold_s: float) -> list[TraceKey]:
        """Traces not written yet whose last span arrived more than `hold_s` ago."""
        cutoff = now - timedelta(seconds=hold_s)
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(TRACES.c.owner, TRACES.c.trace_id).where(
                    TRACES.c.written_at.is_(None), TRACES.c.last_seen < cutoff
                )
            )
            return [(owner, trace_id) for owner, trace_id in rows]

    def holds_any(self) -> bool:
        """Whether any trace waits to be written (one held when a server stopped)."""
        if not self.available:
            return False
        with self.engine.connect() as connection:
            query = select(TRACES.c.trace_id).where(TRACES.c.written_at.is_(None)).limit(1)
            return connection.execute(query).first() is not None

    def unwritten(self, owner: str) -> list[TraceKey]:
        """Traces of `owner` not written yet, however recent."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(TRACES.c.trace_id).where(
                    TRACES.c.owner == owner, TRACES.c.written_at.is_(None)
                )
            ).scalars()
            return [(owner, trace_id) for trace_id in rows]

    def release(self, now: datetime, linger_s: float) -> list[TraceKey]:
        """Forget written traces whose last span arrived more than `linger_s` ago."""
        cutoff = now - timedelta(seconds=linger_s)
        condition = and_(TRACES.c.written_at.is_not(None), TRACES.c.last_seen < cutoff)
        return self.forget(condition)

    def release_all(self, keys: Iterable[TraceKey]) -> None:
        """Forget these traces now (an ingest of files that holds every span there is)."""
        keys = list(keys)
        if keys:
            self.forget(tuple_(TRACES.c.owner, TRACES.c.trace_id).in_(keys))

    def forget(self, condition: object) -> list[TraceKey]:
        with self._writing() as connection:
            keys = [
                (owner, trace_id)
                for owner, trace_id in connection.execute(
                    select(TRACES.c.owner, TRACES.c.trace_id).where(condition)  # type: ignore[arg-type]
                )
            ]
            for owner, trace_id in keys:
                for table in (SPANS, TRACES):
                    connection.execute(
                        delete(table).where(table.c.owner == owner, table.c.trace_id == trace_id)
                    )
        return keys


def _insert(connection: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT of the connection's dialect (both have ON CONFLICT DO NOTHING)."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
