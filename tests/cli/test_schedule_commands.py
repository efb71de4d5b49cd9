"""`aa-notebooks schedule ...` through the entry point: exact output, crontab lines, errors."""

from __future__ import annotations

import json
import os
import shlex
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from aa_notebooks.cli import main
from aa_notebooks.cli.commands import build_parser

PARIS = ZoneInfo("Europe/Paris")
U2 = "b0b00000-0000-4000-8000-000000000002"
HINT = (
    "it runs while `aa-notebooks schedule run` does, or from the lines of "
    "`aa-notebooks schedule crontab`"
)


@pytest.fixture
def schedules_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config" / "schedules.json"
    monkeypatch.setenv("AA_SCHEDULES_FILE", str(path))
    monkeypatch.chdir(tmp_path)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def next_at(zone: ZoneInfo, hour: int, weekday: int | None = None) -> str:
    """The next hour:00 in `zone` (on `weekday`, Monday = 0), found by hand, as `list` shows it."""
    now = datetime.now(zone)
    day = now.date()
    while True:
        moment = datetime(day.year, day.month, day.day, hour, tzinfo=zone)
        if moment > now and (weekday is None or moment.weekday() == weekday):
            return f"{moment:%Y-%m-%d %H:%M %Z}"
        day += timedelta(days=1)


def add_two(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(
        capsys, "--user", U2, "schedule", "add", "weekly", "--cron", "0 8 * * MON",
        "--report", "cost", "--period", "7d", "--email", "ops@example.com,cfo@example.com",
        "--timezone", "Europe/Paris", "--top-n", "5", "--title", "Costs: 100% 'real'",
    )[0] == 0  # fmt: skip
    assert run(capsys, "schedule", "add", "daily", "--cron", "0 9 * * *", "--report", "budget",
               "--output-dir", "out", "--email", "a@example.com", "--email", "b@example.com",
               )[0] == 0  # fmt: skip


def test_add_list_remove(schedules_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "schedule", "add", "daily", "--cron", "0 9 * * *", "--report", "budget"
    )
    assert (code, err) == (0, "")
    assert out == f"added schedule daily: budget report at 0 9 * * * (UTC); {HINT}\n"
    code, out, _ = run(capsys, "schedule", "add", "weekly", "--cron", "0 8 * * MON",
                       "--report", "cost", "--period", "30d", "--user", U2)  # fmt: skip
    code, out, _ = run(capsys, "schedule", "list")
    assert code == 0
    assert out == (
        "  name        cron timezone           job period                                 user "
        "email             next_run\n"
        " daily   0 9 * * *      UTC budget report                                             "
        f"      {next_at(ZoneInfo('UTC'), 9)}\n"
        f"weekly 0 8 * * MON      UTC   cost report    30d {U2}       "
        f"{next_at(ZoneInfo('UTC'), 8, 0)}\n"
    )
    code, out, _ = run(capsys, "schedule", "remove", "daily")
    assert (code, out) == (0, "removed schedule daily\n")
    assert [s["name"] for s in json.loads(schedules_file.read_text())["schedules"]] == ["weekly"]
    code, out, _ = run(capsys, "schedule", "add", "weekly", "--cron", "0 7 * * *",
                       "--report", "cost", "--replace")  # fmt: skip
    assert out.startswith("replaced schedule weekly: cost report at 0 7 * * * (UTC); ")


def test_list_as_json_in_the_schedule_time_zone(
    schedules_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_two(capsys)
    code, out, _ = run(capsys, "schedule", "list", "--format", "json")
    assert code == 0
    assert json.loads(out) == [
        {"name": "daily", "cron": "0 9 * * *", "timezone": "UTC", "job": "budget report",
         "period": "", "user": "", "email": "a@example.com, b@example.com",
         "next_run": next_at(ZoneInfo("UTC"), 9)},
        {"name": "weekly", "cron": "0 8 * * MON", "timezone": "Europe/Paris", "job": "cost report",
         "period": "7d", "user": U2, "email": "ops@example.com, cfo@example.com",
         "next_run": next_at(PARIS, 8, 0)},
    ]  # fmt: skip


def test_empty_list(schedules_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "schedule", "list") == (0, "(no rows)\n", "")
    assert run(capsys, "schedule", "crontab") == (
        0, "# no schedules: add one with `aa-notebooks schedule add`\n", ""
    )  # fmt: skip


def test_crontab_lines(
    schedules_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_two(capsys)
    command = Path(sys.executable).parent / "aa-notebooks"
    assert command.is_file()
    code, out, _ = run(capsys, "schedule", "crontab")
    assert code == 0
    assert out == (
        "CRON_TZ=UTC\n"
        f"0 9 * * * {command} report budget --email a@example.com,b@example.com "
        f"--output-dir {tmp_path}/out\n"
        "CRON_TZ=Europe/Paris\n"
        f"0 8 * * MON {command} report cost --email ops@example.com,cfo@example.com "
        f"--output-dir {tmp_path}/aa-reports --title 'Costs: 100\\% '\"'\"'real'\"'\"'' "
        f"--period 7d --user {U2} --timezone Europe/Paris --top-n 5\n"
    )
    # What cron runs: `\%` becomes `%`, then sh reads the line; the report command accepts it.
    line = out.splitlines()[3]
    words = shlex.split(line.split(maxsplit=5)[5].replace("\\%", "%"))
    assert words[0] == str(command)
    args = build_parser("cli").parse_args(words[1:])
    assert (args.command, args.kind, args.period, args.user_id, args.email) == (
        "report", "cost", "7d", U2, "ops@example.com,cfo@example.com"
    )  # fmt: skip
    assert (args.output_dir, args.timezone, args.top_n, args.title) == (
        f"{tmp_path}/aa-reports", "Europe/Paris", 5, "Costs: 100% 'real'"
    )  # fmt: skip


def test_run_once_records_new_schedules_and_runs_nothing(
    schedules_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_two(capsys)
    assert run(capsys, "schedule", "run", "--once") == (0, "nothing due\n", "")
    state = json.loads(schedules_file.with_name("schedules-state.json").read_text())
    assert sorted(state["schedules"]) == ["daily", "weekly"]
    assert state["schedules"]["daily"]["last_run"] is None


def test_run_once_catches_up_and_exits_1_when_the_report_fails(
    schedules_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "schedule", "add", "daily", "--cron", "0 9 * * *", "--report", "cost")
    seen = {"cron": "0 9 * * *", "timezone": "UTC", "since": "2026-01-01T00:00:00+00:00",
            "last_run": "2026-01-02T00:00:00+00:00"}  # fmt: skip
    state = {"version": 1, "schedules": {"daily": seen}}
    schedules_file.with_name("schedules-state.json").write_text(json.dumps(state))
    missing = tmp_path / "missing.db"
    code, out, _ = run(capsys, "--db", f"sqlite:///{missing}", "schedule", "run", "--once")
    assert code == 1
    assert out.startswith(
        "daily failed (due 2026-01-02 09:00 UTC, catching up missed runs): "
        f"ConfigurationError: no database yet at {missing}"
    )
    assert out.count("\n") == 1
    assert not os.path.exists(missing)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["schedule", "add", "x", "--cron", "0 25 * * *", "--report", "cost"],
         "cron '0 25 * * *': the hour field '25' is not valid; it takes 0-23"),
        (["schedule", "add", "x", "--report", "cost"],
         "the following arguments are required: --cron"),
        (["schedule", "add", "x", "--cron", "0 8 * * *", "--report", "weekly"],
         "--report: 'weekly' is not one of cost, budget"),
        (["schedule", "add", "x y", "--cron", "0 8 * * *", "--report", "cost"],
         "schedule name 'x y' may hold only letters, digits, - and _"),
        (["schedule", "add", "x", "--cron", "0 8 * * *", "--report", "cost", "--email", "nobody"],
         "'nobody' is not an email address"),
        (["schedule", "add", "x", "--cron", "0 8 * * *", "--report", "cost", "--timezone", "Paris"],
         "unknown time zone 'Paris': give an IANA name such as UTC or Europe/Paris"),
        (["schedule", "add", "x", "--cron", "0 8 * * *", "--report", "cost", "--period", "1y"],
         "period must be 24h, 7d, 30d, 90d"),
        (["--db", "sqlite:///a.db", "schedule", "add", "x", "--cron", "0 8 * * *", "--report",
          "cost"], "schedules never store the database URL (it may hold a password)"),
        (["schedule", "lst"], "'lst' is not one of add, list, remove, run, crontab; did you mean "
         "'list'?"),
        (["schedule", "remove", "nope"], "no schedule named 'nope'; the schedules are: none"),
        (["schedule", "add", "x", "--cron", "0 8 * * *"],
         "a report schedule needs its report: choose one of cost, budget (or the job "
         "budgets-evaluate)"),
        (["schedule", "add", "x", "--cron", "0 8 * * *", "--job", "budgets-evaluate", "--report",
          "cost", "--email", "a@example.com"],
         "a budgets-evaluate schedule takes no report, email: it evaluates the budgets and "
         "emails the alerts due to AA_BUDGET_ALERT_EMAILS"),
        (["schedule", "add", "x", "--cron", "0 8 * * *", "--job", "evaluate"],
         "--job: 'evaluate' is not one of report, budgets-evaluate"),
    ],
)  # fmt: skip
def test_errors_are_one_line(
    schedules_file: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.startswith("aa-notebooks: error: ") and message in err and err.count("\n") == 1
    assert not schedules_file.exists()


def test_duplicate_name(schedules_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_two(capsys)
    code, _, err = run(capsys, "schedule", "add", "daily", "--cron", "0 8 * * *",
                       "--report", "cost")  # fmt: skip
    assert code == 2
    assert err == (
        "aa-notebooks: error: a schedule named 'daily' exists: remove it first or use --replace\n"
    )


def test_help_states_the_missed_runs_policy(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "schedule", "run", "--help")
    assert code == 0
    assert "runs once to catch up, not once per missed" in " ".join(out.split())


def test_a_budgets_evaluation_schedule(
    schedules_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--user", "a11ce000-0000-4000-8000-000000000001", "schedule",
                         "add", "alerts", "--cron", "*/15 * * * *", "--job",
                         "budgets-evaluate")  # fmt: skip
    assert (code, err) == (0, "")
    assert out == f"added schedule alerts: budgets evaluation at */15 * * * * (UTC); {HINT}\n"
    assert json.loads(schedules_file.read_text())["schedules"] == [
        {"name": "alerts", "cron": "*/15 * * * *", "report": None, "email": [],
         "output_dir": None, "job": "budgets-evaluate",
         "user_id": "a11ce000-0000-4000-8000-000000000001"}
    ]  # fmt: skip
    code, out, _ = run(capsys, "schedule", "list", "--format", "json")
    [listed] = json.loads(out)
    assert (listed["job"], listed["user"]) == (
        "budgets evaluation", "a11ce000-0000-4000-8000-000000000001"
    )  # fmt: skip
    code, out, _ = run(capsys, "schedule", "crontab")
    command = os.path.join(os.path.dirname(sys.executable), "aa-notebooks")
    assert out.splitlines() == [
        "CRON_TZ=UTC",
        f"*/15 * * * * {shlex.quote(command)} budgets evaluate "
        "--user a11ce000-0000-4000-8000-000000000001",
    ]


def test_add_refuses_an_output_dir_it_cannot_write(
    schedules_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    code, out, err = run(capsys, "schedule", "add", "daily", "--cron", "0 9 * * *",
                         "--report", "cost", "--output-dir", "a-file/reports")  # fmt: skip
    assert (code, out) == (2, "")
    assert err == (
        f"aa-notebooks: error: cannot make the output folder {tmp_path}/a-file/reports: "
        "Not a directory; give --output-dir a folder you can write to\n"
    )
    assert not schedules_file.exists()


def test_add_makes_its_output_dir(
    schedules_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "schedule", "add", "daily", "--cron", "0 9 * * *", "--report", "cost",
               "--output-dir", "deep/reports")[0] == 0  # fmt: skip
    assert (tmp_path / "deep" / "reports").is_dir()
    assert list((tmp_path / "deep" / "reports").iterdir()) == []
