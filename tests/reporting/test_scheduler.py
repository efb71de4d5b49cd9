"""The scheduler on a simulated clock: which reports run when, failures, missed runs, live edits.

The clock moves only when the scheduler sleeps, so every run happens at an exact time; expected
fire times are worked out by hand in each test. Europe/Paris is UTC+1 until the night of 28-29
March 2026, when 02:00 CET becomes 03:00 CEST (01:00 UTC), and UTC+2 after.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aa_notebooks.errors import ConfigurationError, ReportError
from aa_notebooks.reporting.parameters import ReportParameters
from aa_notebooks.reporting.scheduler import (
    MAX_SLEEP,
    RunOutcome,
    Scheduler,
    run_scheduler,
    single_instance,
    stop_on_signals,
)
from aa_notebooks.reporting.schedules import Schedule, ScheduleStore

Run = tuple[str, datetime]


def utc(year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def every(name: str, first: datetime, step: timedelta, last: datetime) -> list[Run]:
    """(name, time) from `first` to `last` inclusive, `step` apart."""
    runs = []
    while first <= last:
        runs.append((name, first))
        first += step
    return runs


def in_order(runs: list[Run]) -> list[Run]:
    """Runs as the scheduler makes them: by time, then by name."""
    return sorted(runs, key=lambda run: (run[1], run[0]))


class SimulatedTime:
    """A clock moved by `sleep`; runs `events` (time, action) when reached; stops at `end`."""

    def __init__(
        self, start: datetime, end: datetime, events: list[tuple[datetime, Callable[[], None]]] = ()
    ) -> None:
        self.now, self.end = start, end
        self.events = sorted(events, key=lambda event: event[0])
        self.stop = threading.Event()
        self.sleeps: list[float] = []

    def clock(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)
        while self.events and self.events[0][0] <= self.now:
            self.events.pop(0)[1]()
        if self.now >= self.end:
            self.stop.set()


class Recorder:
    """A runner that notes (name, time) of each run; raises for the schedules named `failing`."""

    def __init__(self, time: SimulatedTime, failing: dict[str, Exception] | None = None) -> None:
        self.time, self.failing, self.runs = time, failing or {}, []

    def __call__(self, schedule: Schedule) -> None:
        self.runs.append((schedule.name, self.time.now))
        if schedule.name in self.failing:
            raise self.failing[schedule.name]


def scheduler(store: ScheduleStore, time: SimulatedTime, runner: Recorder) -> Scheduler:
    return Scheduler(store, runner=runner, clock=time.clock, sleep=time.sleep, stop=time.stop)


def simulate(store: ScheduleStore, time: SimulatedTime, **failing: Exception) -> list[Run]:
    runner = Recorder(time, failing)
    scheduler(store, time, runner).run_forever()
    assert max(time.sleeps) <= MAX_SLEEP
    return runner.runs


@pytest.fixture
def store(tmp_path: Path) -> ScheduleStore:
    return ScheduleStore(tmp_path / "schedules.json")


def add(store: ScheduleStore, name: str, cron: str, timezone: str = "UTC") -> None:
    store.add(
        Schedule(
            name=name, cron=cron, report="cost", parameters=ReportParameters(timezone=timezone)
        ),
        replace=True,
    )


def test_reports_fire_at_their_cron_times_in_their_time_zone(store: ScheduleStore) -> None:
    add(store, "weekly", "0 8 * * MON", "Europe/Paris")
    add(store, "quarter", "*/15 * * * *", "Europe/Paris")
    add(store, "daily", "0 9 * * *", "Europe/Paris")
    # Friday 27 March 23:50 UTC to Monday 30 March 12:05 UTC.
    time = SimulatedTime(utc(2026, 3, 27, 23, 50), utc(2026, 3, 30, 12, 5))
    expected = in_order(
        [
            *every("quarter", utc(2026, 3, 28, 0), timedelta(minutes=15), utc(2026, 3, 30, 12)),
            ("daily", utc(2026, 3, 28, 8)),  # 09:00 CET
            ("daily", utc(2026, 3, 29, 7)),  # 09:00 CEST, the first day of summer time
            ("daily", utc(2026, 3, 30, 7)),
            ("weekly", utc(2026, 3, 30, 6)),  # Monday 08:00 CEST
        ]
    )
    assert len(expected) == 60 * 4 + 1 + 3 + 1
    assert simulate(store, time) == expected


def test_a_failing_report_is_logged_and_the_others_still_run(
    store: ScheduleStore, caplog: pytest.LogCaptureFixture
) -> None:
    add(store, "hourly", "0 * * * *")
    add(store, "broken", "30 * * * *")
    add(store, "crashing", "0 */2 * * *")
    time = SimulatedTime(utc(2026, 1, 5, 7, 50), utc(2026, 1, 5, 11, 5))
    failing = {
        "broken": ReportError("the cost report failed in cell 3: ZeroDivisionError"),
        "crashing": RuntimeError("kernel died\nwith a second line"),
    }
    with caplog.at_level(logging.ERROR, logger="aa_notebooks.reporting.scheduler"):
        runs = simulate(store, time, **failing)
    assert runs == in_order(
        every("hourly", utc(2026, 1, 5, 8), timedelta(hours=1), utc(2026, 1, 5, 11))
        + every("broken", utc(2026, 1, 5, 8, 30), timedelta(hours=1), utc(2026, 1, 5, 10, 30))
        + [("crashing", utc(2026, 1, 5, 8)), ("crashing", utc(2026, 1, 5, 10))]
    )
    broken = (
        "schedule broken failed: ReportError: the cost report failed in cell 3: ZeroDivisionError"
    )
    crashing = "schedule crashing failed: RuntimeError: kernel died"
    assert caplog.messages == [crashing, broken, broken, crashing, broken]


def test_missed_runs_are_caught_up_once_on_start(store: ScheduleStore) -> None:
    add(store, "hourly", "0 * * * *")
    add(store, "daily", "0 9 * * *")
    first = SimulatedTime(utc(2026, 1, 5, 7, 30), utc(2026, 1, 5, 10, 10))
    assert simulate(store, first) == [
        ("hourly", utc(2026, 1, 5, 8)),
        ("daily", utc(2026, 1, 5, 9)),
        ("hourly", utc(2026, 1, 5, 9)),
        ("hourly", utc(2026, 1, 5, 10)),
    ]
    # Down for three days: 9:00 on 6, 7 and 8 January and 62 hours passed; each runs once.
    later = SimulatedTime(utc(2026, 1, 8, 10, 20, 30), utc(2026, 1, 8, 10, 25))
    runner = Recorder(later, {"daily": ReportError("no database yet")})
    result = run_scheduler(store, once=True, runner=runner, clock=later.clock)
    assert runner.runs == [("hourly", later.now), ("daily", later.now)]
    assert result.outcomes == (
        RunOutcome("hourly", utc(2026, 1, 5, 11), caught_up=True),
        RunOutcome(
            "daily", utc(2026, 1, 6, 9), caught_up=True, error="ReportError: no database yet"
        ),
    )
    assert not result.ok
    assert str(result) == (
        "ran hourly (due 2026-01-05 11:00 UTC, catching up missed runs)\n"
        "daily failed (due 2026-01-06 09:00 UTC, catching up missed runs): "
        "ReportError: no database yet"
    )
    # A failed run counts as the run: nothing is due again until the next fire time.
    again = run_scheduler(store, once=True, runner=runner, clock=later.clock)
    assert (again.outcomes, again.ok, str(again)) == ((), True, "nothing due")


def test_waking_late_runs_a_schedule_once(store: ScheduleStore) -> None:
    add(store, "hourly", "0 * * * *")
    time = SimulatedTime(utc(2026, 1, 5, 7, 30), utc(2026, 1, 5, 13, 10))

    def suspend() -> None:  # the machine sleeps from 08:30 to 12:30
        time.now += timedelta(hours=4)

    time.events = [(utc(2026, 1, 5, 8, 30), suspend)]
    assert simulate(store, time) == [
        ("hourly", utc(2026, 1, 5, 8)),
        ("hourly", utc(2026, 1, 5, 12, 30)),  # 9:00 to 12:00 missed: one run on waking
        ("hourly", utc(2026, 1, 5, 13)),
    ]


def test_a_clock_set_back_does_not_hold_a_schedule_until_its_last_run_comes_again(
    store: ScheduleStore, caplog: pytest.LogCaptureFixture
) -> None:
    add(store, "daily", "0 8 * * *")
    ahead = SimulatedTime(utc(2030, 6, 1, 7, 59), utc(2030, 6, 1, 8, 1))  # a clock years ahead
    assert simulate(store, ahead) == [("daily", utc(2030, 6, 1, 8))]
    # The clock is right again: the next 08:00 runs, as `schedule list` says it will.
    time = SimulatedTime(utc(2026, 12, 7, 7, 30), utc(2026, 12, 8, 8, 30))
    with caplog.at_level(logging.WARNING, logger="aa_notebooks.reporting.scheduler"):
        assert simulate(store, time) == [
            ("daily", utc(2026, 12, 7, 8)), ("daily", utc(2026, 12, 8, 8))
        ]  # fmt: skip
    assert caplog.messages == [
        "schedule daily last ran at 2030-06-01 08:00 UTC, after now (2026-12-07 07:30 UTC): "
        "the clock was set back; its next run counts from now"
    ]


def test_a_clock_set_back_while_running_keeps_the_schedule(store: ScheduleStore) -> None:
    add(store, "hourly", "0 * * * *")
    time = SimulatedTime(utc(2026, 1, 7, 7, 30), utc(2026, 1, 7, 9))  # two days ahead

    def set_back() -> None:  # at 08:30 the clock is found two days ahead and corrected
        time.now -= timedelta(days=2)
        time.end = utc(2026, 1, 5, 11, 10)

    time.events = [(utc(2026, 1, 7, 8, 30), set_back)]
    assert simulate(store, time) == [
        ("hourly", utc(2026, 1, 7, 8)),
        *every("hourly", utc(2026, 1, 5, 9), timedelta(hours=1), utc(2026, 1, 5, 11)),
    ]


def test_a_clock_set_back_a_little_after_a_run_does_not_run_it_again(
    store: ScheduleStore, caplog: pytest.LogCaptureFixture
) -> None:
    """NTP steps the clock back 2 minutes just after the 08:00 run: 08:00 came round again,
    and the report was made and emailed twice."""
    add(store, "daily", "0 8 * * *")
    time = SimulatedTime(utc(2026, 12, 7, 7, 59), utc(2026, 12, 8, 8, 30))

    def step_back() -> None:
        time.now -= timedelta(minutes=2)

    time.events = [(utc(2026, 12, 7, 8, 0, 30), step_back)]
    with caplog.at_level(logging.WARNING, logger="aa_notebooks.reporting.scheduler"):
        assert simulate(store, time) == [
            ("daily", utc(2026, 12, 7, 8)), ("daily", utc(2026, 12, 8, 8))
        ]  # fmt: skip
    assert caplog.messages == []


def test_a_new_schedule_waits_for_its_next_time(store: ScheduleStore) -> None:
    add(store, "hourly", "0 * * * *")
    add(store, "moved", "0 * * * *")
    simulate(store, SimulatedTime(utc(2026, 1, 5, 7, 30), utc(2026, 1, 5, 8, 10)))
    # While the scheduler is down: a new schedule, and one whose cron changes (new again).
    add(store, "daily", "0 9 * * *")
    add(store, "moved", "30 * * * *")
    restart = utc(2026, 1, 8, 10, 20, 30)
    time = SimulatedTime(restart, utc(2026, 1, 9, 9, 10))
    assert simulate(store, time) == in_order(
        [
            ("hourly", restart),
            *every("hourly", utc(2026, 1, 8, 11), timedelta(hours=1), utc(2026, 1, 9, 9)),
            *every("moved", utc(2026, 1, 8, 10, 30), timedelta(hours=1), utc(2026, 1, 9, 8, 30)),
            ("daily", utc(2026, 1, 9, 9)),
        ]
    )


def test_edits_of_the_schedules_file_are_picked_up(
    store: ScheduleStore, caplog: pytest.LogCaptureFixture
) -> None:
    add(store, "hourly", "0 * * * *")
    add(store, "quarter", "*/15 * * * *")

    def swap() -> None:
        store.remove("quarter")
        add(store, "half", "*/30 * * * *")

    def break_file() -> None:
        store.path.write_text("{ not json")

    def repair() -> None:
        store.path.unlink()
        add(store, "hourly", "0 * * * *")

    time = SimulatedTime(
        utc(2026, 1, 5, 7, 50),
        utc(2026, 1, 5, 10, 5),
        [
            (utc(2026, 1, 5, 8, 20), swap),
            (utc(2026, 1, 5, 9, 10), break_file),
            (utc(2026, 1, 5, 9, 40), repair),
        ],
    )
    with caplog.at_level(logging.ERROR, logger="aa_notebooks.reporting.scheduler"):
        runs = simulate(store, time)
    assert runs == in_order(
        [
            *every("hourly", utc(2026, 1, 5, 8), timedelta(hours=1), utc(2026, 1, 5, 10)),
            ("quarter", utc(2026, 1, 5, 8)),
            ("quarter", utc(2026, 1, 5, 8, 15)),
            *every("half", utc(2026, 1, 5, 8, 30), timedelta(minutes=30), utc(2026, 1, 5, 9, 30)),
        ]
    )
    assert len(caplog.messages) == 1
    assert caplog.messages[0].startswith(f"cannot read the schedules file {store.path}")
    assert caplog.messages[0].endswith("; still running the schedules read before")


def test_state_file_records_each_schedule(store: ScheduleStore) -> None:
    add(store, "hourly", "0 * * * *")
    simulate(store, SimulatedTime(utc(2026, 1, 5, 7, 30), utc(2026, 1, 5, 8, 10)))
    state = json.loads((store.path.parent / "schedules-state.json").read_text())
    assert state == {
        "version": 1,
        "schedules": {
            "hourly": {
                "cron": "0 * * * *",
                "timezone": "UTC",
                "since": "2026-01-05T07:30:00+00:00",
                "last_run": "2026-01-05T08:00:00+00:00",
            }
        },
    }


def test_sigterm_ends_the_loop_after_the_running_report(store: ScheduleStore) -> None:
    add(store, "a", "0 * * * *")
    add(store, "b", "0 * * * *")
    time = SimulatedTime(utc(2026, 1, 5, 7, 59, 30), utc(2026, 1, 6, 0))
    finished = []

    def runner(schedule: Schedule) -> None:
        signal.raise_signal(signal.SIGTERM)
        finished.append((schedule.name, time.now))

    before = signal.getsignal(signal.SIGTERM)
    run_scheduler(store, runner=runner, clock=time.clock, sleep=time.sleep, stop=time.stop)
    assert finished == [("a", utc(2026, 1, 5, 8))]  # b was not started
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_second_ctrl_c_interrupts_at_once() -> None:
    stop = threading.Event()
    with pytest.raises(KeyboardInterrupt), stop_on_signals(stop):
        signal.raise_signal(signal.SIGINT)
        assert stop.is_set()
        signal.raise_signal(signal.SIGINT)


def test_a_second_scheduler_on_the_same_file_is_refused(store: ScheduleStore) -> None:
    add(store, "daily", "0 8 * * *")
    time = SimulatedTime(utc(2026, 12, 1, 9), utc(2026, 12, 1, 9))
    runner = Recorder(time)
    holder = Scheduler(store, runner=runner, clock=time.clock)
    lock = holder.state_path.with_suffix(".lock")
    with single_instance(lock, store.path):  # a scheduler already running on this file
        with pytest.raises(ConfigurationError) as refused:
            run_scheduler(store, once=True, runner=runner, clock=time.clock)
        assert str(refused.value) == (
            f"another scheduler (pid {os.getpid()}) is running the schedules in {store.path}: "
            "stop it first, or give this one its own AA_SCHEDULES_FILE"
        )
    assert run_scheduler(store, once=True, runner=runner, clock=time.clock).outcomes == ()
