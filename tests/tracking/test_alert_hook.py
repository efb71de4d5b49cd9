"""Recording hands the alerts it made due to an explicit `on_alerts` hook (the default emails
them): the tracker's writer after the batch that crossed a threshold, `record_execution` after
its commit; never when nothing crossed. The events stay recorded and unsent for
`budgets evaluate`."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import URL, make_url

from aa_notebooks.budgets import create_budget, record_execution
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.records import AgentExecutionCreate
from aa_notebooks.db.schema import BudgetAlertEvent, table_of
from aa_notebooks.tracking import Tracker

EVENTS = table_of(BudgetAlertEvent)


def events(url: str) -> list[tuple[str, bool]]:
    """(kind, notified) of every alert event, in firing order."""
    query = select(EVENTS.c.kind, EVENTS.c.notified).order_by(EVENTS.c.fired_at, EVENTS.c.kind)
    with get_engine(url).connect() as connection:
        return [(str(kind), bool(notified)) for kind, notified in connection.execute(query)]


def same_database(told: URL, db_url: str) -> bool:
    """The hook was told the test's database (the driver name may have been filled in)."""
    expected = make_url(db_url)
    return (told.get_backend_name(), told.host, told.database) == (
        expected.get_backend_name(),
        expected.host,
        expected.database,
    )


def test_the_writer_tells_the_hook_after_the_batch_that_crossed(
    db_url: str, spool_dir: Path
) -> None:
    """$0.006 a run (gpt-4o, 1,200 + 300 tokens) against $0.01 warning at 100%: the first run
    crosses nothing, the second ($0.012) fires one exceeded event and one call."""
    create_budget(db_url, name="cap", threshold_usd=Decimal("0.01"), alert_type="warning",
                  alert_at_percentage=100, period_days=1)  # fmt: skip
    told: list[URL] = []
    tracker = Tracker(db_url, spool_dir=spool_dir, on_alerts=told.append)
    try:
        with tracker.execution(agent_name="researcher") as run:
            run.tokens("main_agent", "gpt-4o", 1200, 300)
        tracker.flush()
        assert told == []
        with tracker.execution(agent_name="researcher") as run:
            run.tokens("main_agent", "gpt-4o", 1200, 300)
        tracker.flush()
    finally:
        tracker.close()
    assert len(told) == 1 and same_database(told[0], db_url)
    assert events(db_url) == [("exceeded", False)]  # recorded, not emailed by this hook


def test_record_execution_tells_the_hook_after_its_commit(db_url: str) -> None:
    """$1 threshold, warning at 50%: $0.40 crosses nothing, +$0.20 crosses 50% (warning),
    +$0.50 crosses 100% (exceeded): two calls, two events."""
    create_budget(db_url, name="cap", threshold_usd=Decimal("1"), alert_type="warning",
                  alert_at_percentage=50, period_days=1)  # fmt: skip
    told: list[URL] = []
    now = datetime.now(UTC)
    for cost in ("0.40", "0.20", "0.50"):
        execution = AgentExecutionCreate(status="success", cost_usd=Decimal(cost), started_at=now)
        record_execution(db_url, execution, now=now, on_alerts=told.append)
        if cost == "0.40":
            assert told == []
    assert len(told) == 2 and all(same_database(url, db_url) for url in told)
    assert sorted(events(db_url)) == [("exceeded", False), ("warning", False)]
