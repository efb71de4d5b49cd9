"""Schedules: a named cron expression and the job to run, kept in a JSON file.

A job makes a report (`job` "report", the default: the cost or budget report) or evaluates the
budgets (`job` "budgets-evaluate": what `aa-notebooks budgets evaluate` does, so spend is written
back and alert emails go out with no notebook open).

The file holds no secrets: the database URL and the SMTP settings come from the environment when
a report runs. It is `$AA_SCHEDULES_FILE`, else `schedules.json` in the user's config directory,
and is rewritten atomically (a temporary file, then `os.replace`), so a reader never sees half.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from platformdirs import user_config_dir

from aa_notebooks.errors import ConfigurationError, InvalidInputError, MissingExtraError
from aa_notebooks.notify import parse_recipients
from aa_notebooks.reporting.notebooks import REPORT_KINDS, ReportKind
from aa_notebooks.reporting.parameters import ReportParameters

if TYPE_CHECKING:
    from croniter import croniter

SCHEDULES_ENV = "AA_SCHEDULES_FILE"
FILE_VERSION = 1
NAME = re.compile(r"[A-Za-z0-9_-]+")
# Standard crontab syntax only (what `schedule crontab` can hand to cron): *, N, A-B, /N, lists,
# and three-letter month and weekday names; croniter's extensions (L, #, H, @daily) are refused.
CRON_FIELD = re.compile(r"(\*|[0-9]+|[A-Za-z]{3})(-([0-9]+|[A-Za-z]{3}))?(/[0-9]+)?")
CRON_FIELDS = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day of month", "1-31"),
    ("month", "1-12 or JAN-DEC"),
    ("day of week", "0-7 or SUN-SAT, 0 and 7 being Sunday"),
)
REPORT_JOB, EVALUATE_JOB = "report", "budgets-evaluate"
JOBS = (REPORT_JOB, EVALUATE_JOB)
EVALUATE_PARAMETERS = ("user_id", "timezone")
"""The report parameters an evaluation takes: whose budgets, and the cron's time zone."""
CRON_HELP = "5 fields: minute hour day-of-month month day-of-week, e.g. '0 8 * * MON'"


def _croniter() -> type[croniter]:
    try:
        from croniter import croniter
    except ImportError:
        raise MissingExtraError("croniter", "notebook") from None
    return croniter


def check_cron(expression: str) -> None:
    """InvalidInputError quoting the field of `expression` that cron would not accept."""
    croniter = _croniter()
    parts = expression.split() if isinstance(expression, str) else []
    if len(parts) != len(CRON_FIELDS):
        raise InvalidInputError(f"cron {expression!r} must have {CRON_HELP}")
    for index, (part, (name, accepted)) in enumerate(zip(parts, CRON_FIELDS, strict=True)):
        alone = ["*"] * len(CRON_FIELDS)
        alone[index] = part
        standard = all(CRON_FIELD.fullmatch(item) for item in part.split(","))
        if not standard or not croniter.is_valid(" ".join(alone)):
            raise InvalidInputError(
                f"cron {expression!r}: the {name} field {part!r} is not valid; "
                f"it takes {accepted}, with *, ranges A-B, steps /N and lists A,B"
            )
    try:
        croniter(expression).get_next(datetime)
    except ValueError:
        raise InvalidInputError(f"cron {expression!r} never fires (no such date)") from None


def next_fire(cron: str, timezone: str, after: datetime) -> datetime:
    """The first time strictly after `after` (aware) at which `cron`, read in `timezone`, fires.

    As cron does when clocks go back: a job at a fixed time (hour and minute both given) runs
    once in the repeated hour, at its first occurrence; one whose hour or minute is a wildcard
    runs in both."""
    zone = ZoneInfo(timezone)
    times = _croniter()(cron, after.astimezone(zone))
    fixed = _fixed_time(cron)
    while True:
        fire: datetime = times.get_next(datetime)
        if not (fixed and _second_occurrence(fire, zone)):
            return fire.astimezone(after.tzinfo)


def _fixed_time(cron: str) -> bool:
    """Whether a cron expression's minute and hour are both given (no `*`)."""
    if cron.startswith("@"):
        return cron.strip() != "@hourly"
    minute, hour = cron.split()[:2]
    return "*" not in minute and "*" not in hour


def _second_occurrence(moment: datetime, zone: ZoneInfo) -> bool:
    """Whether `moment`'s wall time comes twice that night (clocks went back) and this is the
    second time."""
    wall = moment.replace(tzinfo=None)
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return first != second and moment.astimezone(UTC) == second


@dataclass(frozen=True)
class Schedule:
    """When to run which job (which report with which parameters, and where it goes; or the
    budgets' evaluation, for whose budgets); checked when made. The report parameters' time
    zone is also the zone the cron expression is read in."""

    name: str
    cron: str
    report: ReportKind | None = None
    email: tuple[str, ...] = ()
    output_dir: str | None = None
    job: str = REPORT_JOB
    parameters: ReportParameters = field(default_factory=ReportParameters)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME.fullmatch(self.name):
            raise InvalidInputError(
                f"schedule name {self.name!r} may hold only letters, digits, - and _"
            )
        self._check_job()
        check_cron(self.cron)
        if self.parameters.start_date or self.parameters.end_date or self.parameters.as_of:
            raise InvalidInputError(
                "a schedule's window is a period that ends when it runs (--period), not fixed "
                "dates or an as-of time"
            )
        object.__setattr__(self, "email", parse_recipients(self.email))
        lines = {"output_dir": self.output_dir, "title": self.parameters.title}
        for name, value in lines.items():
            if value is not None and (not isinstance(value, str) or not value.isprintable()):
                raise InvalidInputError(f"{name} must be one line of text, got {value!r}")

    @property
    def timezone(self) -> str:
        """The IANA zone of the cron expression and of the report's timestamps."""
        return self.parameters.timezone

    def _check_job(self) -> None:
        """A known job; a report for a report job, none of the report's fields for the other."""
        if self.job not in JOBS:
            raise InvalidInputError(f"unknown job {self.job!r}: choose one of {', '.join(JOBS)}")
        if self.job == REPORT_JOB and self.report is None:
            raise InvalidInputError(
                f"a report schedule needs its report: choose one of {', '.join(REPORT_KINDS)} "
                f"(or the job {EVALUATE_JOB})"
            )
        if self.job == REPORT_JOB and self.report not in REPORT_KINDS:
            raise InvalidInputError(
                f"unknown report {self.report!r}: choose one of {', '.join(REPORT_KINDS)}"
            )
        if self.job == EVALUATE_JOB:
            given = [name for name in ("report", "email", "output_dir") if getattr(self, name)]
            given += [n for n in self.parameters.given() if n not in EVALUATE_PARAMETERS]
            if given:
                raise InvalidInputError(
                    f"a {EVALUATE_JOB} schedule takes no {', '.join(given)}: it evaluates the "
                    "budgets and emails the alerts due to AA_BUDGET_ALERT_EMAILS"
                )

    @property
    def describe(self) -> str:
        """What it runs, in words: "cost report", "budget report" or "budgets evaluation"."""
        return f"{self.report} report" if self.job == REPORT_JOB else "budgets evaluation"

    def next_fire(self, after: datetime) -> datetime:
        """The first fire time strictly after `after`, in `after`'s time zone."""
        return next_fire(self.cron, self.timezone, after)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form kept in the schedules file: flat, with the parameters that were given."""
        own = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "parameters"}
        return {**own, "email": list(self.email), **self.parameters.given()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schedule:
        """A schedule from its JSON form; unknown keys are an error (a typo would be lost)."""
        own = {f.name for f in fields(cls)} - {"parameters"}
        of_report = {f.name for f in fields(ReportParameters)}
        if unknown := sorted(set(data) - own - of_report):
            raise InvalidInputError(
                f"unknown schedule fields {unknown}; known: {sorted(own | of_report)}"
            )
        values = {k: v for k, v in data.items() if k in own}
        if isinstance(values.get("email"), list):
            values["email"] = tuple(values["email"])
        parameters = ReportParameters(**{k: v for k, v in data.items() if k in of_report})
        try:
            return cls(**values, parameters=parameters)
        except TypeError as exc:
            raise InvalidInputError(f"incomplete schedule: {exc}") from None


def default_schedules_path() -> Path:
    """`$AA_SCHEDULES_FILE`, else schedules.json in the user's config directory."""
    configured = os.environ.get(SCHEDULES_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    return Path(user_config_dir("aa-notebooks", appauthor=False)) / "schedules.json"


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` in one step: readers see the old file or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class ScheduleStore:
    """The schedules file: load, add, remove; a missing file holds no schedules."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_schedules_path()

    def load(self) -> list[Schedule]:
        """Every schedule, by name; ConfigurationError naming the file when it is malformed."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigurationError(f"cannot read the schedules file {self.path}: {exc}") from None
        entries = data.get("schedules") if isinstance(data, dict) else None
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise ConfigurationError(
                f'the schedules file {self.path} is not {{"schedules": [...]}}: fix or remove it'
            )
        schedules = []
        for entry in entries:
            try:
                schedules.append(Schedule.from_dict(entry))
            except InvalidInputError as exc:
                label = entry.get("name", "without a name")
                raise ConfigurationError(
                    f"the schedules file {self.path}, schedule {label!r}: {exc}"
                ) from None
        names = [s.name for s in schedules]
        if twice := sorted({n for n in names if names.count(n) > 1}):
            raise ConfigurationError(f"the schedules file {self.path} names {twice} twice")
        return sorted(schedules, key=lambda s: s.name)

    def add(self, schedule: Schedule, *, replace: bool = False) -> None:
        """Store `schedule`; a name already taken is an error unless `replace`."""
        schedules = {s.name: s for s in self.load()}
        if schedule.name in schedules and not replace:
            raise InvalidInputError(
                f"a schedule named {schedule.name!r} exists: remove it first or use --replace"
            )
        schedules[schedule.name] = schedule
        self._save(schedules.values())

    def remove(self, name: str) -> Schedule:
        """Delete the schedule called `name` and return it."""
        schedules = {s.name: s for s in self.load()}
        if name not in schedules:
            names = ", ".join(schedules) or "none"
            raise InvalidInputError(f"no schedule named {name!r}; the schedules are: {names}")
        removed = schedules.pop(name)
        self._save(schedules.values())
        return removed

    def _save(self, schedules: Any) -> None:
        entries = [s.to_dict() for s in sorted(schedules, key=lambda s: s.name)]
        document = {"version": FILE_VERSION, "schedules": entries}
        write_atomically(self.path, json.dumps(document, indent=2) + "\n")
