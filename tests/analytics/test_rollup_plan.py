"""Which parts of a window the rollups answer: whole days, whole hours, the raw rest."""

from __future__ import annotations

from datetime import UTC, datetime

from aa_notebooks.analytics.rollup_plan import ReadPlan, plan_window


def t(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2024, 6, day, hour, minute, tzinfo=UTC)


def test_partial_hours_raw_whole_hours_and_days_from_the_rollups() -> None:
    assert plan_window(t(1, 10, 30), t(4, 5, 15), []) == ReadPlan(
        raw=[(t(1, 10, 30), t(1, 11)), (t(4, 5), t(4, 5, 15))],
        hours=[(t(1, 11), t(2)), (t(4), t(4, 5))],
        days=[(t(2), t(4))],
    )


def test_a_changed_hour_is_read_raw_and_its_day_by_the_hour() -> None:
    assert plan_window(t(1, 10, 30), t(4, 5, 15), [t(2, 7), t(9, 1)]) == ReadPlan(
        raw=[(t(1, 10, 30), t(1, 11)), (t(2, 7), t(2, 8)), (t(4, 5), t(4, 5, 15))],
        hours=[(t(1, 11), t(2, 7)), (t(2, 8), t(3)), (t(4), t(4, 5))],
        days=[(t(3), t(4))],
    )


def test_a_window_without_a_whole_hour_is_all_raw() -> None:
    assert plan_window(t(1, 10, 1), t(1, 10, 59), []) == ReadPlan(
        [(t(1, 10, 1), t(1, 10, 59))], [], []
    )
    assert plan_window(t(1, 10, 30), t(1, 11, 30), []) == ReadPlan(
        [(t(1, 10, 30), t(1, 11, 30))], [], []
    )


def test_whole_hours_within_one_day_and_exact_boundaries() -> None:
    assert plan_window(t(1, 10), t(1, 12), [t(1, 11)]) == ReadPlan(
        raw=[(t(1, 11), t(1, 12))], hours=[(t(1, 10), t(1, 11))], days=[]
    )
    assert plan_window(t(1), t(3), []) == ReadPlan([], [], [(t(1), t(3))])
