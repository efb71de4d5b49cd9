"""`Tracker`: records executions into one database, as `with`/`async with` blocks.

Before the block runs, the hard-stop check refuses it with BudgetExceededError when a hard_stop
budget of its scope (global, user, agent, flow) is spent; a refused run did no work and is not
recorded. The check counts the spend of this tracker's runs that the writer has not committed
yet, so a backlog lets no run through past the threshold. When the database cannot be used for
that check (any error but BudgetExceededError: an outage, a driver error, raw or wrapped), the run
goes ahead and is spooled like any other, and one warning says so for the whole outage:
recording never hurts the agent. On exit the execution is recorded:
`success`; `failure` with the exception's class name and message (re-raised) or with what
`run.fail` was given; `timeout` when `timeout_s` ran out. Async blocks are cancelled at the
deadline and raise TimeoutError; a synchronous block cannot be interrupted, so it runs to its
end and is recorded as `timeout` if it took longer than `timeout_s`, returning normally.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy.engine import URL

from aa_notebooks.budgets import check_budget
from aa_notebooks.budgets.delivery import AlertNotifier, deliver_in_background
from aa_notebooks.db.schema import ExecutionStatus
from aa_notebooks.db.url import mask_url, resolve_url
from aa_notebooks.errors import (
    BudgetExceededError,
    InvalidInputError,
    SchemaError,
    StoredValueError,
)
from aa_notebooks.tracking.context import CURRENT_RUN
from aa_notebooks.tracking.ids import optional_uuid
from aa_notebooks.tracking.in_flight import HEARTBEAT_EVERY_S, RECORD_LOST_AFTER_S
from aa_notebooks.tracking.outage import notice_for
from aa_notebooks.tracking.run import Run
from aa_notebooks.tracking.writer import BatchWriter

log = logging.getLogger(__name__)


class Tracker:
    """Records executions into one database through a background batch writer."""

    def __init__(
        self,
        url: str | URL | None = None,
        *,
        check_budgets: bool = True,
        spool_dir: str | Path | None = None,
        batch_size: int = 2000,
        retry_interval_s: float = 2.0,
        on_alerts: AlertNotifier = deliver_in_background,
        heartbeat_every_s: float = HEARTBEAT_EVERY_S,
        record_lost_after_s: float = RECORD_LOST_AFTER_S,
    ) -> None:
        """`on_alerts` is told (with the database URL) after a batch recorded budget alerts; the
        default emails and posts them from a background thread. Runs going for over a second
        are marked as running in the database, with a heartbeat every `heartbeat_every_s`; a
        run whose heartbeat stopped `record_lost_after_s` ago (its process died) is recorded as
        a failure."""
        self.url = resolve_url(url)
        self._on_alerts = on_alerts
        self._url_text = self.url.render_as_string(hide_password=False)  # hashed at once
        self.check_budgets = check_budgets
        self._spool_dir = spool_dir
        self._batch_size = batch_size
        self._retry_interval_s = retry_interval_s
        self._heartbeat_every_s = heartbeat_every_s
        self._record_lost_after_s = record_lost_after_s
        self._writer: BatchWriter | None = None
        self._lock = threading.Lock()
        self._unreadable_said = False  # a row the budget check cannot read was warned of
        self.notice = notice_for(mask_url(self.url))
        """Shared by the check and the writer: one warning per outage."""

    @property
    def writer(self) -> BatchWriter:
        """The background writer, started on first use."""
        if self._writer is None:
            with self._lock:
                if self._writer is None:
                    self._writer = BatchWriter(
                        self.url,
                        spool_dir=self._spool_dir,
                        batch_size=self._batch_size,
                        retry_interval_s=self._retry_interval_s,
                        notice=self.notice,
                        on_alerts=self._on_alerts,
                        heartbeat_every_s=self._heartbeat_every_s,
                        record_lost_after_s=self._record_lost_after_s,
                    )
        return self._writer

    def execution(
        self,
        *,
        agent_name: str | None,
        query: str | None = None,
        agent_type: str | None = None,
        model: str | None = None,
        user_id: uuid.UUID | str | None = None,
        session_id: uuid.UUID | str | None = None,
        flow_id: str | None = None,
        agent_id: uuid.UUID | str | None = None,
        request_id: uuid.UUID | str | None = None,
        timeout_s: float | None = None,
    ) -> ExecutionScope:
        """A `with` / `async with` block recording one execution; it yields the `Run`."""
        fields = {
            "agent_name": agent_name, "query": query, "agent_type": agent_type, "model": model,
            "user_id": user_id, "session_id": session_id, "flow_id": flow_id,
            "agent_id": agent_id, "request_id": request_id,
        }  # fmt: skip
        return ExecutionScope(self, fields, timeout_s)

    def check_hard_stop(
        self,
        *,
        user_id: uuid.UUID | str | None = None,
        agent_name: str | None = None,
        agent_id: uuid.UUID | str | None = None,
        flow_id: str | None = None,
    ) -> None:
        """Raise BudgetExceededError when a hard_stop budget of this scope is spent.

        Spend recorded by this tracker and not committed yet counts. Lets the run go ahead when
        budgets cannot be read: no budget table at all (so no budget to enforce), or any database
        error (one warning for the whole outage).
        """
        writer = self._writer
        if not self.check_budgets or (writer is not None and writer.unreadable):
            return
        user = optional_uuid(user_id, "user_id")
        pending = writer.pending.micros if writer is not None else None
        try:
            check_budget(
                self._url_text, user_id=user, agent=agent_name, agent_id=agent_id, flow=flow_id,
                pending=pending,
            )  # fmt: skip
        except (BudgetExceededError, InvalidInputError):
            raise
        except StoredValueError as error:  # tables there, a row unreadable: said, not silent
            if not self._unreadable_said:
                self._unreadable_said = True
                log.warning("budget checks are skipped and runs go ahead: %s", error)
            return
        except SchemaError:  # no budget tables: nothing to check
            return
        except Exception as error:
            self.notice.went_down(error, "budget checks are skipped and runs go ahead")
            return
        self.notice.came_back()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every execution recorded so far is in the database or the spool."""
        return self._writer.flush(timeout) if self._writer is not None else True

    def close(self) -> None:
        """Flush and stop the writer (it starts again on the next execution)."""
        with self._lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()


class ExecutionScope:
    """One tracked execution as a `with` or `async with` block; use `Tracker.execution`."""

    def __init__(self, tracker: Tracker, fields: dict[str, Any], timeout_s: float | None) -> None:
        if timeout_s is not None and not timeout_s > 0:
            raise InvalidInputError(
                f"timeout_s must be a positive number of seconds, got {timeout_s}"
            )
        self._tracker = tracker
        self._fields = fields
        self._timeout_s = timeout_s
        self._run: Run | None = None
        self._writer: BatchWriter | None = None
        self._token: Any = None
        self._deadline: asyncio.Timeout | None = None
        self.timed_out = False
        """True once the block ran past `timeout_s` and was recorded as `timeout`."""

    def __enter__(self) -> Run:
        self._check()
        return self._start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        run, _ = self._running()
        overran = self._timeout_s is not None and run.elapsed_ms > self._timeout_s * 1000
        if exc is None and overran:
            self.timed_out = True
            message = (
                f"ran {run.elapsed_ms:.0f} ms, over the {self._timeout_s} s limit "
                "(a synchronous block is not interrupted)"
            )
            self._end(ExecutionStatus.timeout, "TimeoutError", message)
        else:
            self._end_with(exc)

    async def __aenter__(self) -> Run:
        if self._tracker.check_budgets:
            await asyncio.to_thread(self._check)  # a database read: keep it off the event loop
        run = self._start()
        if self._timeout_s is not None:
            self._deadline = asyncio.timeout(self._timeout_s)
            await self._deadline.__aenter__()
        return run

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._deadline is not None:
            try:
                await self._deadline.__aexit__(exc_type, exc, traceback)
            except TimeoutError:
                self._timed_out()
                raise
            if exc is None and self._deadline.expired():  # the block swallowed its cancellation
                self._timed_out()
                return
        self._end_with(exc)

    def begin(self) -> Run:
        """Start the run without making it the context's current one, for a generator: its
        steps run in its consumer's context, so `current()` makes it current around each."""
        self._check()
        return self._start(current=False)

    async def begin_async(self) -> Run:
        """`begin` for an async generator (the budget check off the event loop)."""
        if self._tracker.check_budgets:
            await asyncio.to_thread(self._check)
        return self._start(current=False)

    @contextmanager
    def current(self) -> Iterator[Run]:
        """The run as `current_run()` inside the block, and what was current before after it."""
        run, _ = self._running()
        token = CURRENT_RUN.set(run)
        try:
            yield run
        finally:
            CURRENT_RUN.reset(token)

    def end(self, exc: BaseException | None) -> None:
        """Record the run begun by `begin`: a failure when `exc` is given."""
        self._end_with(exc)

    def _check(self) -> None:
        fields = self._fields
        self._tracker.check_hard_stop(
            user_id=fields["user_id"],
            agent_name=fields["agent_name"],
            agent_id=fields["agent_id"],
            flow_id=fields["flow_id"],
        )

    def _start(self, current: bool = True) -> Run:
        self._writer = self._tracker.writer  # started now: a setup error shows before the work
        self._run = Run(**self._fields)
        self._writer.started(self._run)
        if current:
            self._token = CURRENT_RUN.set(self._run)
        return self._run

    def _running(self) -> tuple[Run, BatchWriter]:
        if self._run is None or self._writer is None:
            raise RuntimeError("this execution block was not entered")
        return self._run, self._writer

    def _timed_out(self) -> None:
        self.timed_out = True
        message = f"cancelled at the {self._timeout_s} s limit"
        self._end(ExecutionStatus.timeout, "TimeoutError", message)

    def _end_with(self, exc: BaseException | None) -> None:
        if exc is None:
            self._end(None, None, None)
        else:
            self._end(ExecutionStatus.failure, type(exc).__name__, str(exc) or None)

    def _end(
        self, status: ExecutionStatus | None, error_type: str | None, message: str | None
    ) -> None:
        run, writer = self._running()
        if self._token is not None:
            CURRENT_RUN.reset(self._token)
        writer.submit(run.finish(status, error_type, message))
