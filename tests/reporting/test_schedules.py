"""Schedules: checks with clear errors, the JSON store, its atomic writes and where it lives."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aa_notebooks.errors import ConfigurationError, InvalidInputError
from aa_notebooks.reporting.parameters import ReportParameters
from aa_notebooks.reporting.schedules import (
    Schedule,
    ScheduleStore,
    default_schedules_path,
    next_fire,
    write_atomically,
)

USER = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
WEEKLY = Schedule(
    name="weekly-costs",
    cron="0 8 * * MON",
    report="cost",
    email=("ops@example.com", "cfo@example.com"),
    output_dir="/srv/reports",
    parameters=ReportParameters(
        title="Weekly costs", period="7d", user_id=USER, timezone="Europe/Paris", top_n=5
    ),
)
DAILY = Schedule(name="daily_budget", cron="0 9 * * *", report="budget")
ALERTS = Schedule(
    name="alerts",
    cron="*/15 * * * *",
    job="budgets-evaluate",
    parameters=ReportParameters(user_id=USER),
)


@pytest.fixture
def store(tmp_path: Path) -> ScheduleStore:
    return ScheduleStore(tmp_path / "conf" / "schedules.json")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "weekly costs"}, "schedule name 'weekly costs' may hold only letters, digits"),
        ({"name": ""}, "schedule name '' may hold only"),
        ({"cron": "0 8 * *"}, "cron '0 8 * *' must have 5 fields: minute hour day-of-month"),
        ({"cron": "@daily"}, "cron '@daily' must have 5 fields"),
        (
            {"cron": "0 25 * * *"},
            "cron '0 25 * * *': the hour field '25' is not valid; it takes 0-23",
        ),
        ({"cron": "60 8 * * *"}, "the minute field '60' is not valid; it takes 0-59"),
        (
            {"cron": "0 8 * * FOO"},
            "the day of week field 'FOO' is not valid; it takes 0-7 or SUN-SAT",
        ),
        ({"cron": "0 8 * 13 *"}, "the month field '13' is not valid; it takes 1-12 or JAN-DEC"),
        ({"cron": "0 8 0 * *"}, "the day of month field '0' is not valid; it takes 1-31"),
        ({"cron": "*/0 8 * * *"}, "the minute field '*/0' is not valid"),
        ({"cron": "0 8 * * 1#2"}, "the day of week field '1#2' is not valid"),
        ({"cron": "0 8 L * *"}, "the day of month field 'L' is not valid"),
        ({"cron": "0 0 31 2 *"}, "cron '0 0 31 2 *' never fires (no such date)"),
        ({"report": "weekly"}, "unknown report 'weekly': choose one of cost, budget"),
        ({"period": "fortnight"}, "period must be 24h, 7d, 30d, 90d"),
        ({"email": ("ops@example.com", "nobody")}, "'nobody' is not an email address"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus': give an IANA name"),
        ({"timezone": "../etc/passwd"}, "unknown time zone '../etc/passwd'"),
        ({"top_n": 0}, "top_n must be between 1 and 1000; got 0"),
        ({"top_n": 1001}, "top_n must be between 1 and 1000; got 1001"),
        ({"top_n": True}, "top_n must be a whole number; got True"),
        ({"title": "two\nlines"}, "title must be one line of text, got 'two\\nlines'"),
        ({"user_id": "u-1"}, "user_id"),
        (
            {"period": None, "start_date": "2026-11-01", "end_date": "2026-11-02"},
            "a schedule's window is a period that ends when it runs",
        ),
        ({"job": "cleanup"}, "unknown job 'cleanup': choose one of report, budgets-evaluate"),
        ({"report": None}, "a report schedule needs its report: choose one of cost, budget"),
        (
            {"job": "budgets-evaluate"},
            "a budgets-evaluate schedule takes no report, email, output_dir, title, period, "
            "top_n: it evaluates the budgets and emails the alerts due to AA_BUDGET_ALERT_EMAILS",
        ),
    ],
)
def test_invalid_fields_are_clear_errors(changes: dict[str, object], message: str) -> None:
    values = {**WEEKLY.to_dict(), **changes}
    with pytest.raises(InvalidInputError) as caught:
        Schedule.from_dict(values)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_standard_cron_forms_are_accepted() -> None:
    for cron in (
        "*/15 * * * *",
        "0 8 * * MON-FRI",
        "30 6 1,15 * *",
        "0 0 * JAN,JUL 0",
        "5 4 * * 7",
    ):
        assert Schedule(name="s", cron=cron, report="cost").cron == cron


def test_email_text_is_split_into_addresses() -> None:
    schedule = Schedule(name="s", cron="0 8 * * *", report="cost", email="a@example.com, b@x.org")
    assert schedule.email == ("a@example.com", "b@x.org")


def test_next_fire_reads_the_cron_in_the_schedule_time_zone() -> None:
    # 2026-01-01 is a Thursday: the next Monday is 5 January, 08:00 CET = 07:00 UTC.
    assert WEEKLY.next_fire(datetime(2026, 1, 1, tzinfo=UTC)) == datetime(2026, 1, 5, 7, tzinfo=UTC)
    # 1 June 2026 is a Monday; at 07:00 UTC (09:00 CEST) its 08:00 has passed: 8 June, 06:00 UTC.
    after = datetime(2026, 6, 1, 7, tzinfo=UTC)
    assert WEEKLY.next_fire(after) == datetime(2026, 6, 8, 6, tzinfo=UTC)
    # Strictly after: at a fire time, the next one.
    assert DAILY.next_fire(datetime(2026, 1, 1, 9, tzinfo=UTC)) == datetime(
        2026, 1, 2, 9, tzinfo=UTC
    )


def _fires(cron: str, zone: str, after: datetime, count: int) -> list[datetime]:
    found = []
    for _ in range(count):
        after = next_fire(cron, zone, after)
        found.append(after)
    return found


def test_a_fixed_time_runs_once_the_night_clocks_go_back() -> None:
    """Paris, 25 October 2026: 03:00 CEST becomes 02:00 CET, so 02:30 comes at 00:30 and at
    01:30 UTC. The report ran (and was emailed) twice; cron runs such a job once, at the first
    02:30. A job whose minute or hour is a wildcard runs in both hours, as in cron."""
    night = datetime(2026, 10, 24, 12, tzinfo=UTC)
    assert _fires("30 2 * * *", "Europe/Paris", night, 2) == [
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 26, 1, 30, tzinfo=UTC),
    ]  # fmt: skip
    # New York, 1 November: 01:30 EDT (05:30 UTC), not 01:30 EST (06:30 UTC) too
    assert _fires("30 1 * * *", "America/New_York", datetime(2026, 11, 1, tzinfo=UTC), 2) == [
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC), datetime(2026, 11, 2, 6, 30, tzinfo=UTC),
    ]  # fmt: skip
    halves = _fires("*/30 * * * *", "Europe/Paris", datetime(2026, 10, 25, tzinfo=UTC), 4)
    assert halves == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC) + n * timedelta(minutes=30)
                      for n in range(4)]  # fmt: skip  # 02:30, 02:00, 02:30 and 03:00 local


def test_store_round_trip(store: ScheduleStore) -> None:
    assert store.load() == []
    store.add(WEEKLY)
    store.add(DAILY)
    assert store.load() == [DAILY, WEEKLY]
    assert ScheduleStore(store.path).load() == [DAILY, WEEKLY]
    stored = json.loads(store.path.read_text())
    assert stored["version"] == 1
    assert stored["schedules"][1] == {
        "name": "weekly-costs", "cron": "0 8 * * MON", "report": "cost",
        "email": ["ops@example.com", "cfo@example.com"], "output_dir": "/srv/reports",
        "job": "report", "title": "Weekly costs", "period": "7d", "user_id": USER,
        "timezone": "Europe/Paris", "top_n": 5,
    }  # fmt: skip


def test_a_budgets_evaluation_round_trips(store: ScheduleStore) -> None:
    store.add(ALERTS)
    store.add(DAILY)
    assert ScheduleStore(store.path).load() == [ALERTS, DAILY]
    stored = json.loads(store.path.read_text())["schedules"]
    assert [(s["name"], s["job"], s["report"]) for s in stored] == [
        ("alerts", "budgets-evaluate", None), ("daily_budget", "report", "budget")
    ]  # fmt: skip
    assert (ALERTS.describe, DAILY.describe) == ("budgets evaluation", "budget report")


def test_a_file_without_jobs_holds_report_schedules(store: ScheduleStore) -> None:
    """Files written before schedules had jobs load as they were."""
    entry = {"name": "daily_budget", "cron": "0 9 * * *", "report": "budget"}
    store.path.parent.mkdir(parents=True)
    store.path.write_text(json.dumps({"version": 1, "schedules": [entry]}))
    assert store.load() == [DAILY]


def test_duplicate_name_needs_replace(store: ScheduleStore) -> None:
    store.add(WEEKLY)
    other = Schedule(name="weekly-costs", cron="0 7 * * MON", report="budget")
    with pytest.raises(InvalidInputError, match="a schedule named 'weekly-costs' exists: remove"):
        store.add(other)
    assert store.load() == [WEEKLY]
    store.add(other, replace=True)
    assert store.load() == [other]


def test_remove_unknown_names_the_schedules(store: ScheduleStore) -> None:
    with pytest.raises(InvalidInputError, match=r"^no schedule named 'x'; the schedules are: none"):
        store.remove("x")
    store.add(WEEKLY)
    store.add(DAILY)
    with pytest.raises(InvalidInputError, match=r"the schedules are: daily_budget, weekly-costs$"):
        store.remove("weekly")
    assert store.remove("weekly-costs") == WEEKLY
    assert store.load() == [DAILY]


def test_write_replaces_the_file_in_one_step(tmp_path: Path) -> None:
    path = tmp_path / "schedules.json"
    write_atomically(path, "old")
    with path.open() as reader:  # a reader holding the file keeps the whole old version
        write_atomically(path, "new")
        assert reader.read() == "old"
    assert path.read_text() == "new"
    with pytest.raises(UnicodeEncodeError):
        write_atomically(path, "half written \ud800")
    assert path.read_text() == "new"
    assert os.listdir(tmp_path) == ["schedules.json"]  # no temporary file left behind


def test_path_from_environment_else_config_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AA_SCHEDULES_FILE", str(tmp_path / "mine.json"))
    assert ScheduleStore().path == tmp_path / "mine.json"
    ScheduleStore().add(DAILY)
    assert ScheduleStore(tmp_path / "mine.json").load() == [DAILY]
    monkeypatch.delenv("AA_SCHEDULES_FILE")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert default_schedules_path() == tmp_path / "config" / "aa-notebooks" / "schedules.json"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "cannot read the schedules file"),
        ('["a"]', 'is not {"schedules": [...]}: fix or remove it'),
        ('{"schedules": [{"name": "a", "cron": "0 8 * *", "report": "cost"}]}',
         "schedule 'a': cron '0 8 * *' must have 5 fields"),
        ('{"schedules": [{"name": "a", "cron": "0 8 * * *", "report": "cost", "colour": 1}]}',
         "schedule 'a': unknown schedule fields ['colour']"),
        ('{"schedules": [{"name": "a", "report": "cost"}]}', "schedule 'a': incomplete schedule"),
        ('{"schedules": [{"name": "a", "cron": "0 8 * * *", "report": "cost"},'
         ' {"name": "a", "cron": "0 9 * * *", "report": "cost"}]}', "names ['a'] twice"),
    ],
)  # fmt: skip
def test_malformed_file_names_the_file(store: ScheduleStore, text: str, message: str) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text(text)
    with pytest.raises(ConfigurationError) as caught:
        store.load()
    assert str(store.path) in str(caught.value) and message in str(caught.value)
