"""`ReportParameters` is the one statement of a report's parameters: the notebooks' parameters
cells, the command-line options and the runner all agree with it."""

from __future__ import annotations

import ast
import re
from dataclasses import fields
from datetime import UTC, date, datetime, timedelta
from html import escape
from pathlib import Path

import papermill
import pytest

from aa_notebooks.analytics import connect
from aa_notebooks.cli.commands import build_parser
from aa_notebooks.db.inspection import OddTimesWarning
from aa_notebooks.errors import InvalidInputError
from aa_notebooks.reporting.notebooks import REPORT_KINDS, report_notebook
from aa_notebooks.reporting.parameters import DEFAULT_TITLES, ReportParameters
from tests.cli.test_database_commands import document_sqlite_with_run

FIELDS = [field.name for field in fields(ReportParameters)]


@pytest.mark.parametrize("kind", REPORT_KINDS)
def test_the_notebook_declares_the_parameters_with_their_defaults(kind: str) -> None:
    declared = papermill.inspect_notebook(str(report_notebook(kind)))
    assert set(declared) <= set(FIELDS)
    assert {"period", "start_date", "end_date", "user_id", "title", "timezone", "as_of"} <= set(
        declared
    )
    defaults = ReportParameters().titled(kind)
    for name, parameter in declared.items():
        assert ast.literal_eval(parameter["default"]) == getattr(defaults, name), name


def test_both_report_commands_take_every_parameter() -> None:
    report = build_parser("cli").subcommands()["report"]
    options = {o for action in report._actions for o in action.option_strings}
    assert {"--period", "--start-date", "--end-date", "--user", "--title", "--timezone",
            "--top-n", "--as-of"} <= options  # fmt: skip
    schedule_add = build_parser("cli").subcommands()["schedule"]
    add = next(a for a in schedule_add._actions if getattr(a, "choices", None))
    added = {o for action in add.choices["add"]._actions for o in action.option_strings}
    assert {"--period", "--user", "--title", "--timezone", "--top-n"} <= added


def test_keywords_build_the_same_parameters() -> None:
    made = ReportParameters.of(period="7d", top_n=3, start_date=None)
    assert made == ReportParameters(period="7d", top_n=3)
    assert ReportParameters(
        start_date=date(2026, 11, 1), end_date=date(2026, 11, 30)
    ).start_date == ("2026-11-01")
    with pytest.raises(InvalidInputError, match="unknown report parameter top; the parameters"):
        ReportParameters.of(top=3)


def test_given_lists_what_differs_from_the_defaults() -> None:
    parameters = ReportParameters(period="30d", timezone="Europe/Paris")
    assert parameters.given() == {"period": "30d", "timezone": "Europe/Paris"}
    assert parameters.titled("cost").title == DEFAULT_TITLES["cost"]
    assert ReportParameters(title="Mine").titled("budget").title == "Mine"


def test_a_window_longer_than_its_charts_can_read_is_refused_before_a_kernel() -> None:
    """Up to 4,998 days: a report reads one row per UTC day its window touches (at most 5,000)."""
    as_of = "2026-12-01T08:30:00"
    assert ReportParameters(period="4998d", as_of=as_of).period == "4998d"
    said = "a report's window is at most 4,998 days (about 13 years); 4999d is 4,999 days"
    with pytest.raises(InvalidInputError, match=re.escape(said)):
        ReportParameters(period="4999d", as_of=as_of)
    with pytest.raises(InvalidInputError, match="2000-01-01 to 2026-12-01 is 9,832 days"):
        ReportParameters(start_date="2000-01-01", end_date="2026-12-01", as_of=as_of)


def test_the_header_warns_of_times_sqlite_cannot_compare(tmp_path: Path) -> None:
    """The CLI warns on stderr; a report goes by email, so its page says it too."""
    url = document_sqlite_with_run(tmp_path / "agentos.db", started_at="2026-11-29T22:01:49+00:00")
    with pytest.warns(OddTimesWarning):
        analytics = connect(url)
    problem = (
        "agentexecutions.started_at holds times like '2026-11-29T22:01:49+00:00': SQLite "
        "compares times as text, so windows would miss or misplace such rows; the kit needs "
        "UTC as 'YYYY-MM-DD HH:MM:SS[.ffffff]'; `aa-notebooks check-db` gives the UPDATE that "
        "mends them"
    )
    assert analytics.stored_time_problems == [problem]
    parameters = ReportParameters(period="7d")
    html = parameters.header(analytics, parameters.window(analytics)).data
    assert html.endswith(f'<p class="aa-note aa-warning">{escape(problem)}</p>')


def test_an_as_of_in_the_future_is_refused() -> None:
    """A report as of 2030 read nothing, and said nothing about why."""
    with pytest.raises(InvalidInputError) as refused:
        ReportParameters(period="7d", as_of="2030-01-01")
    assert str(refused.value) == (
        "as_of 2030-01-01 is in the future: a report is as of now (leave as_of out) or of an "
        "earlier time"
    )
    soon = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert ReportParameters(period="7d", as_of=soon).as_of == soon  # within the leeway


def test_a_window_that_starts_after_now_is_refused() -> None:
    """A report of next month exited 0 and read 'Total cost $0.00 ▼ 100.0%' against a
    previous window that itself ran into the future."""
    with pytest.raises(InvalidInputError) as refused:
        ReportParameters(start_date="2027-01-01", end_date="2027-02-01", as_of="2026-12-01")
    assert str(refused.value) == (
        "the report's window 2027-01-01 to 2027-02-01 starts after as_of (2026-12-01 00:00 UTC): "
        "nothing is recorded there yet; give dates that have begun"
    )
    begun = ReportParameters(start_date="2026-11-15", end_date="2026-12-31", as_of="2026-12-01")
    assert begun.start_date == "2026-11-15"  # a window that has begun may end later
