"""Values the databases cannot take are refused by the analytics layer with one clear line, on
both databases, before any SQL runs: NUL characters in text, pages whose offset passes 64 bits,
dates whose window (or the window before it) would leave the years a datetime can hold."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from aa_notebooks.analytics import Analytics
from aa_notebooks.analytics.executions import MAX_PAGE
from aa_notebooks.analytics.periods import resolve_window
from aa_notebooks.errors import InvalidInputError
from tests.analytics import dataset


@pytest.mark.parametrize(
    ("filters", "named"),
    [({"agent_name": "plan\x00ner"}, "agent_name"), ({"model": "gpt\x00"}, "model")],
)
def test_nul_characters_in_filters(analytics: Analytics, filters: dict, named: str) -> None:
    with pytest.raises(InvalidInputError, match=rf"^{named} must not contain NUL \(\\x00\)"):
        analytics.executions(**filters)


def test_nul_characters_in_an_agent(analytics: Analytics) -> None:
    with pytest.raises(InvalidInputError, match=r"^agent must not contain NUL"):
        analytics.agent_stats("plan\x00ner")


def test_the_last_page_runs_and_the_next_is_refused(analytics: Analytics) -> None:
    last = analytics.executions(page=MAX_PAGE, page_size=1000)
    assert (last.rows.empty, last.page) == (True, MAX_PAGE)  # offset 2^63 - 808: still valid
    for page in (MAX_PAGE + 1, 2**63, 10**20):
        with pytest.raises(InvalidInputError, match=f"^page must be a whole number 1-{MAX_PAGE}"):
            analytics.executions(page=page)


@pytest.mark.parametrize(
    ("start", "end", "refused"),
    [
        ("0001-01-01", "9999-12-31", "start_date must be from 1900-01-01 to 2999-12-31"),
        ("2025-01-01", "9999-12-31", "end_date must be from 1900-01-01 to 2999-12-31"),
        ("1899-12-31", None, "start_date must be from 1900-01-01"),
    ],
)
def test_dates_beyond_the_supported_years(start: str, end: str | None, refused: str) -> None:
    with pytest.raises(InvalidInputError, match=refused):
        resolve_window(None, start, end, dataset.NOW)


def test_the_widest_window_and_the_one_before_it_are_computable() -> None:
    widest = resolve_window(None, date(1900, 1, 1), date(2999, 12, 31), dataset.NOW)
    before = widest.previous()  # as long as the part gone by: 1900 to 2026-11-25 noon
    assert (widest.start.year, widest.end.year, before.start.year) == (1900, 3000, 1773)
    first = datetime(1900, 1, 1, tzinfo=UTC)
    assert before.start == first - (dataset.NOW - first)
    ended = resolve_window(None, date(1900, 1, 1), date(2025, 12, 31), dataset.NOW)
    whole = datetime(2026, 1, 1, tzinfo=UTC) - first  # ended before now: its whole length
    assert ended.previous().start == first - whole
