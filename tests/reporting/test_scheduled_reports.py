"""The scheduler with its real runner: at a report's cron time it makes the real report, and a
schedule that fails is logged while the next one still runs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aa_notebooks.reporting.parameters import ReportParameters
from aa_notebooks.reporting.scheduler import Scheduler
from aa_notebooks.reporting.schedules import Schedule, ScheduleStore

WEEK = ReportParameters(period="7d")

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_due_reports_are_made_by_the_real_runner(
    report_db: str, tmp_path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    monkeypatch.setenv("AA_DATABASE_URL", report_db)
    out, blocked = tmp_path / "out", tmp_path / "not-a-folder"
    blocked.write_text("a file where the broken schedule wants its folder")
    store = ScheduleStore(tmp_path / "schedules.json")
    store.add(Schedule("costs", "0 8 * * *", "cost", output_dir=str(out), parameters=WEEK))
    store.add(Schedule("broken", "0 8 * * *", "budget", output_dir=str(blocked)))
    store.add(Schedule("later", "0 9 * * *", "budget", output_dir=str(out)))
    clock_now = {"now": datetime(2026, 12, 1, 7, 59, tzinfo=UTC)}
    scheduler = Scheduler(store, clock=lambda: clock_now["now"])

    assert scheduler.run_due().outcomes == ()  # first sight at 07:59: nothing due yet
    clock_now["now"] = datetime(2026, 12, 1, 8, 0, 5, tzinfo=UTC)
    result = scheduler.run_due()

    assert [(o.name, o.due.hour, o.error is None) for o in result.outcomes] == [
        ("broken", 8, False), ("costs", 8, True)
    ]  # fmt: skip
    assert not result.ok
    (page,) = out.glob("cost-report-*.html")  # "later" (09:00) has not run
    assert "Agent cost report" in page.read_text()
    assert any("schedule broken failed" in r.getMessage() for r in caplog.records)
