"""The parameters of a report notebook: one object for the runner, schedules, the command line,
the magic and the notebooks' `parameters` cells, checked before a kernel starts and again inside.

These are what papermill writes into the executed notebook, so there is no secret among them:
the database URL and SMTP settings come from the environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aa_notebooks.analytics import Analytics, Window, connect
from aa_notebooks.analytics.buckets import MAX_BUCKETS
from aa_notebooks.analytics.filters import parse_uuid
from aa_notebooks.analytics.periods import resolve_window
from aa_notebooks.errors import InvalidInputError
from aa_notebooks.formatting import timestamp
from aa_notebooks.reporting.notebooks import ReportKind
from aa_notebooks.validation import check_timezone

if TYPE_CHECKING:
    from IPython.display import HTML

MAX_TOP_N = 1000
MAX_REPORT_WINDOW = timedelta(days=MAX_BUCKETS - 2)
"""The longest window a report takes: its charts read one row per UTC day it touches."""
DEFAULT_TOP_N = 10
AS_OF_LEEWAY = timedelta(minutes=5)
"""How far past this machine's clock an as_of may be (another machine's clock may run ahead)."""
DEFAULT_TITLES = {"cost": "Agent cost report", "budget": "Agent budget report"}


@dataclass(frozen=True)
class ReportParameters:
    """Window (period, or start and end dates), user scope, title, time zone, top-N, as-of time.

    `title` None means the report's own title; dates may be given as `date` or "YYYY-MM-DD".
    """

    title: str | None = None
    period: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    user_id: str | None = None
    timezone: str = "UTC"
    top_n: int = DEFAULT_TOP_N
    as_of: str | None = None

    def __post_init__(self) -> None:
        for name in ("start_date", "end_date"):
            object.__setattr__(self, name, date_text(getattr(self, name)))
        if self.user_id is not None:
            object.__setattr__(self, "user_id", str(self.user_id))
        check_timezone(self.timezone)
        if isinstance(self.top_n, bool) or not isinstance(self.top_n, int):
            raise InvalidInputError(f"top_n must be a whole number; got {self.top_n!r}")
        if not 1 <= self.top_n <= MAX_TOP_N:
            raise InvalidInputError(f"top_n must be between 1 and {MAX_TOP_N}; got {self.top_n}")
        if self.user_id is not None:
            parse_uuid(self.user_id, "user_id")
        moment = self.moment()
        window = resolve_window(self.period, self.start_date, self.end_date, moment)
        if window.start > moment:  # nothing recorded yet: every change would read as -100%
            raise InvalidInputError(
                f"the report's window {window.label} starts after "
                f"{'as_of' if self.as_of else 'now'} ({moment:%Y-%m-%d %H:%M} UTC): nothing is "
                "recorded there yet; give dates that have begun"
            )
        if window.duration > MAX_REPORT_WINDOW:  # its charts read one row per day
            raise InvalidInputError(
                f"a report's window is at most {MAX_REPORT_WINDOW.days:,} days (about 13 "
                f"years); {window.label} is {window.duration.days:,} days: give a shorter "
                "period or a later start_date"
            )

    @classmethod
    def of(cls, **values: Any) -> ReportParameters:
        """The parameters from keyword values, an unknown name being a clear error."""
        known = [field.name for field in fields(cls)]
        if unknown := sorted(set(values) - set(known)):
            raise InvalidInputError(
                f"unknown report parameter {', '.join(unknown)}; the parameters are "
                f"{', '.join(known)}"
            )
        return cls(**values)

    @classmethod
    def from_notebook(cls, values: Mapping[str, object]) -> ReportParameters:
        """The parameters as the notebook's parameters cell holds them."""
        # the notebook's values, of any type: __post_init__ checks the ones that can be wrong
        known: dict[str, Any] = {n: values[n] for n in cls.__dataclass_fields__ if n in values}
        return cls(**known)

    def titled(self, kind: ReportKind) -> ReportParameters:
        """These parameters with the `kind` report's own title when none was given."""
        return self if self.title else replace(self, title=DEFAULT_TITLES[kind])

    def given(self) -> dict[str, Any]:
        """The values that differ from the defaults (what a schedule stores, what a command
        line must say)."""
        defaults = ReportParameters()
        return {
            name: value for name, value in asdict(self).items() if value != getattr(defaults, name)
        }

    def injected_values(self) -> dict[str, object]:
        """The values papermill injects: those that were given, so a notebook's own defaults
        (say `period = "30d"`) stand for the rest. With dates, `period` is injected as None,
        since a period and dates together are an error; with a period, the dates are."""
        values = {k: v for k, v in asdict(self).items() if v is not None}
        if self.start_date is not None or self.end_date is not None:
            values["period"] = None
        elif self.period is not None:
            values.update(start_date=None, end_date=None)
        return values

    def moment(self) -> datetime:
        """The time the report is as of: `as_of` (ISO 8601, naive means UTC) or now."""
        if self.as_of is None:
            return datetime.now(UTC)
        try:
            moment = datetime.fromisoformat(self.as_of)
        except (TypeError, ValueError):
            raise InvalidInputError(
                f"as_of must be an ISO 8601 time like 2026-12-01T08:00:00; got {self.as_of!r}"
            ) from None
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        if moment > datetime.now(UTC) + AS_OF_LEEWAY:
            raise InvalidInputError(
                f"as_of {self.as_of} is in the future: a report is as of now (leave as_of out) or "
                "of an earlier time"
            )
        return moment

    def connect(self) -> Analytics:
        """Analytics on $AA_DATABASE_URL (else the default database), scoped and clocked."""
        moment = self.moment() if self.as_of is not None else None
        return connect(user_id=self.user_id, now=(lambda: moment) if moment else None)

    def window(self, analytics: Analytics) -> Window:
        """The report's window."""
        return analytics.window(self.period, self.start_date, self.end_date)

    def describe(self, window: Window) -> str:
        """The window for people, in the report's time zone."""
        start, end = timestamp(window.start, self.timezone), timestamp(window.end, self.timezone)
        return f"{window.label} ({start} – {end})"

    def header(self, analytics: Analytics, window: Window) -> HTML:
        """The report's header block (blocks needs the notebook extra; schedules do not)."""
        from aa_notebooks.reporting import blocks

        generated = datetime.now(UTC)
        return blocks.header(
            self.title or "", analytics.scope, self.describe(window), generated, self.timezone,
            warnings=analytics.stored_time_problems,
        )  # fmt: skip


def date_text(value: str | date | None) -> str | None:
    """A date parameter as YYYY-MM-DD text (papermill parameters are plain values)."""
    return None if value is None else str(value)
