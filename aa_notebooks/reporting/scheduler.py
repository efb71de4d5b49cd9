"""The foreground scheduler behind `aa-notebooks schedule run`: each job at its cron times.

Meant for a service manager (systemd, supervisord, a container): it sleeps until the next fire
time (in chunks of at most a minute, so it notices edits of the schedules file and stop
requests), runs what is due, and logs one line per run. A failing job is logged and the others
still run; a budgets evaluation that leaves due alerts unsent (no email settings, a server
down) counts as failed. SIGTERM or SIGINT ends the loop once the running report has finished.

Missed runs: when the scheduler starts, or wakes late (after a suspend, or behind a long report),
a schedule whose fire times passed since its last run runs ONCE to catch up, however many it
missed (coalesced, like anacron). A schedule it has never seen does not catch up: it waits for
its next fire time. What it has seen and when each schedule last ran is kept in a state file next
to the schedules file (`schedules-state.json` beside `schedules.json`); changing a schedule's
cron or time zone makes it new again.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aa_notebooks.errors import ConfigurationError, ReportError, first_line
from aa_notebooks.reporting.notebooks import DEFAULT_OUTPUT_DIR
from aa_notebooks.reporting.schedules import (
    EVALUATE_JOB,
    Schedule,
    ScheduleStore,
    write_atomically,
)

log = logging.getLogger(__name__)
MAX_SLEEP = 60.0
STATE_VERSION = 1
Runner = Callable[[Schedule], object]
Clock = Callable[[], datetime]
Sleep = Callable[[float], object]


def run_schedule(schedule: Schedule, *, database_url: str | None = None) -> object:
    """Run a schedule's job: its report with `run_report`, or `evaluate_budgets`; database and
    SMTP settings from the environment."""
    if schedule.job == EVALUATE_JOB:
        from aa_notebooks.budgets.evaluation import evaluate_budgets

        return evaluate_budgets(database_url, user_id=schedule.parameters.user_id)

    from aa_notebooks.reporting import run_report

    if schedule.report is None:  # a report job has its report: checked when the schedule was made
        raise ReportError(f"schedule {schedule.name!r} names no report")
    return run_report(
        schedule.report,
        schedule.parameters,
        output_dir=schedule.output_dir or DEFAULT_OUTPUT_DIR,
        email=schedule.email,
        database_url=database_url,
        progress=False,
    )


def state_path_for(schedules_path: Path) -> Path:
    """`schedules-state.json` beside `schedules.json` (NAME-state.json beside NAME.json)."""
    return schedules_path.with_name(f"{schedules_path.stem}-state.json")


@dataclass(frozen=True)
class RunOutcome:
    """One run: the fire time it was due (the first missed one when catching up), any error."""

    name: str
    due: datetime
    caught_up: bool = False
    error: str | None = None

    def __str__(self) -> str:
        late = ", catching up missed runs" if self.caught_up else ""
        when = f"due {self.due:%Y-%m-%d %H:%M} UTC{late}"
        return (
            f"{self.name} failed ({when}): {self.error}"
            if self.error
            else f"ran {self.name} ({when})"
        )


@dataclass(frozen=True)
class PassResult:
    """The runs of one pass over the schedules; `ok` is False when one of them failed."""

    outcomes: tuple[RunOutcome, ...]

    @property
    def ok(self) -> bool:
        return all(outcome.error is None for outcome in self.outcomes)

    def __str__(self) -> str:
        return "\n".join(map(str, self.outcomes)) or "nothing due"


@dataclass
class _Track:
    """What the scheduler knows of one schedule: seen since when, last run when."""

    cron: str
    timezone: str
    since: datetime
    last_run: datetime | None = None
    upcoming: datetime | None = None  # cached next fire time

    def next_fire(self, schedule: Schedule) -> datetime:
        if self.upcoming is None:
            self.upcoming = schedule.next_fire(self.last_run or self.since)
        return self.upcoming


class Scheduler:
    """Runs the schedules of a store at their cron times; clock, sleep and runner injectable."""

    def __init__(
        self,
        store: ScheduleStore | None = None,
        *,
        runner: Runner | None = None,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        state_path: Path | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.store = store or ScheduleStore()
        self.runner = runner or run_schedule
        self.clock = clock or (lambda: datetime.now(UTC))
        self.stop = stop or threading.Event()
        self.sleep = sleep or self.stop.wait
        self.state_path = state_path or state_path_for(self.store.path)
        self.schedules: dict[str, Schedule] = {}
        self._signature: object = None
        self._loaded = False
        self._tracks = self._read_state()

    def run_due(self) -> PassResult:
        """Run every schedule due now, once each however many fire times it missed."""
        self._refresh()
        now = self.clock()
        self._after_clock_went_back(now)
        due = sorted(
            (track.next_fire(self.schedules[name]), name)
            for name, track in self._tracks.items()
            if track.next_fire(self.schedules[name]) <= now
        )
        outcomes = []
        for fire_time, name in due:
            if self.stop.is_set():
                break
            outcomes.append(self._run(self.schedules[name], fire_time))
        return PassResult(tuple(outcomes))

    def run_forever(self) -> None:
        """Run due schedules and sleep until the next, until `stop` is set."""
        self._refresh()
        log.info(
            "scheduler started: %d schedule(s) from %s; missed runs are caught up once",
            len(self.schedules),
            self.store.path,
        )
        while not self.stop.is_set():
            self.run_due()
            if not self.stop.is_set():
                self.sleep(self._seconds_to_wait())
        log.info("scheduler stopped")

    def _run(self, schedule: Schedule, fire_time: datetime) -> RunOutcome:
        started = self.clock()
        caught_up = schedule.next_fire(fire_time) <= started
        if caught_up:
            since = f"{fire_time:%Y-%m-%d %H:%M} UTC"
            log.info(
                "schedule %s missed fire times since %s: running it once", schedule.name, since
            )
        error = None
        try:
            result = self.runner(schedule)
        except Exception as exc:
            error = f"{type(exc).__name__}: {first_line(exc)}"
            log.error("schedule %s failed: %s", schedule.name, error)
            log.debug("schedule %s traceback", schedule.name, exc_info=True)
        else:
            if getattr(result, "ok", True) is False:  # done, but not all of it (alerts unsent)
                error = str(getattr(result, "problem", None) or "not all of it succeeded")
                log.error("schedule %s failed: %s", schedule.name, error)
            else:
                log.info("schedule %s: %s done", schedule.name, schedule.describe)
        track = self._tracks[schedule.name]
        track.last_run, track.upcoming = started, None
        self._write_state()
        return RunOutcome(schedule.name, fire_time, caught_up, error)

    def _after_clock_went_back(self, now: datetime) -> None:
        """A last run after `now` (recorded while the clock was ahead, then set back) would hold
        its schedule until that time came again, for years maybe: it counts from now instead,
        as `schedule list` shows it. A step back within the fire time it served (NTP moving
        the clock two minutes just after the 08:00 run) keeps it: 08:00 is not run twice."""
        for name, track in self._tracks.items():
            schedule = self.schedules[name]
            if track.last_run is not None and track.last_run > now:
                upcoming = schedule.next_fire(now)
                if upcoming <= track.last_run < schedule.next_fire(upcoming):
                    continue  # only the fire time it served lies between: it stays served
                log.warning(
                    "schedule %s last ran at %s UTC, after now (%s UTC): the clock was set "
                    "back; its next run counts from now",
                    name, f"{track.last_run:%Y-%m-%d %H:%M}", f"{now:%Y-%m-%d %H:%M}",
                )  # fmt: skip
                track.last_run, track.upcoming = now, None
            if track.since > now:
                track.since, track.upcoming = now, None

    def _seconds_to_wait(self) -> float:
        upcoming = [t.next_fire(self.schedules[name]) for name, t in self._tracks.items()]
        if not upcoming:
            return MAX_SLEEP
        return min(max((min(upcoming) - self.clock()).total_seconds(), 0.0), MAX_SLEEP)

    def _refresh(self) -> None:
        """Re-read the schedules file when it changed; a broken edit is logged, the old kept."""
        signature = self._file_signature()
        if self._loaded and signature == self._signature:
            return
        try:
            schedules = self.store.load()
        except ConfigurationError as exc:
            if not self._loaded:
                raise
            log.error("%s; still running the schedules read before", exc)
            self._signature = signature
            return
        self._signature, self._loaded = signature, True
        self.schedules = {s.name: s for s in schedules}
        now = self.clock()
        tracks = {}
        for schedule in schedules:
            track = self._tracks.get(schedule.name)
            if track is None or (track.cron, track.timezone) != (schedule.cron, schedule.timezone):
                track = _Track(schedule.cron, schedule.timezone, since=now)
            tracks[schedule.name] = track
        if tracks != self._tracks:
            self._tracks = tracks
            self._write_state()

    def _file_signature(self) -> object:
        """Inode, mtime and size: an atomic replace always changes the inode."""
        try:
            stat = self.store.path.stat()
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def _read_state(self) -> dict[str, _Track]:
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
            return {
                name: _Track(
                    entry["cron"],
                    entry["timezone"],
                    datetime.fromisoformat(entry["since"]),
                    datetime.fromisoformat(entry["last_run"]) if entry["last_run"] else None,
                )
                for name, entry in data["schedules"].items()
            }
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning(
                "ignoring the unreadable state file %s (%s): no catch-up runs this time",
                self.state_path,
                exc,
            )
            return {}

    def _write_state(self) -> None:
        entries: dict[str, Any] = {
            name: {
                "cron": track.cron,
                "timezone": track.timezone,
                "since": track.since.isoformat(),
                "last_run": track.last_run.isoformat() if track.last_run else None,
            }
            for name, track in sorted(self._tracks.items())
        }
        document = {"version": STATE_VERSION, "schedules": entries}
        write_atomically(self.state_path, json.dumps(document, indent=2) + "\n")


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set `stop` (a second SIGINT interrupts at once); main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def request_stop(signum: int, frame: object) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        name = signal.Signals(signum).name
        log.info("%s received: stopping once the running report has finished", name)
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_scheduler(
    store: ScheduleStore | None = None,
    *,
    once: bool = False,
    runner: Runner | None = None,
    clock: Clock | None = None,
    sleep: Sleep | None = None,
    state_path: Path | None = None,
    stop: threading.Event | None = None,
) -> PassResult:
    """Run the scheduler until SIGTERM/SIGINT, or (`once`) run what is due now and return."""
    scheduler = Scheduler(
        store, runner=runner, clock=clock, sleep=sleep, state_path=state_path, stop=stop
    )
    with single_instance(scheduler.state_path.with_suffix(".lock"), scheduler.store.path):
        if once:
            return scheduler.run_due()
        with stop_on_signals(scheduler.stop):
            scheduler.run_forever()
    return PassResult(())


@contextmanager
def single_instance(lock_path: Path, schedules_path: Path) -> Iterator[None]:
    """Hold an exclusive lock while the scheduler runs: two schedulers on one schedules file (a
    service and a cron line, say) would make and send every report twice."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise ConfigurationError(
                f"another scheduler (pid {holder}) is running the schedules in {schedules_path}: "
                "stop it first, or give this one its own AA_SCHEDULES_FILE"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
