"""Recording never raises into agent code: a real PostgreSQL behind a TCP proxy that the test
stops mid-run. The context manager, the decorator (sync and async) and the data contract's recording
functions (sync and async) all go ahead, one warning is logged for the whole outage, and once the
proxy is back every record is in the database exactly once."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from aa_notebooks.budgets import create_budget
from aa_notebooks.db.engine import async_session_factory, dispose_engine, session_factory
from aa_notebooks.db.schema import AgentExecution
from aa_notebooks.tracking import (
    Tracker,
    flush,
    record_token_usage,
    record_token_usage_sync,
    record_trace_step,
    record_trace_step_sync,
    track_agent,
    track_agent_execution,
    track_agent_execution_sync,
)
from tests.conftest import drop_postgres_database, new_postgres_database
from tests.tracking.conftest import counts, executions
from tests.tracking.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres


@pytest.fixture
def proxied(postgres_template: str) -> Iterator[tuple[str, str, TcpProxy]]:
    """A fresh test database: its direct URL, a URL through a running proxy, and the proxy."""
    url, name = new_postgres_database(postgres_template)
    direct = make_url(url)
    proxy = TcpProxy(direct.host or "127.0.0.1", direct.port or 5432)
    proxy.start()
    through = direct.set(port=proxy.port).render_as_string(hide_password=False)
    yield url, through, proxy
    proxy.stop()
    dispose_engine(through)
    drop_postgres_database(url, name)


def record_one(tracker: Tracker, agent: str) -> None:
    """A run with two steps and one usage (gpt-4o, 1,200 + 300 tokens: $0.006)."""
    with tracker.execution(agent_name=agent, model="gpt-4o") as run:
        run.step("thought", "plan")
        run.tokens("main_agent", "gpt-4o", 1200, 300, step_number=1)
        run.step("final_answer", "done")


async def test_an_outage_never_reaches_agent_code(
    proxied: tuple[str, str, TcpProxy], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    direct, through, proxy = proxied
    create_budget(direct, name="roomy", threshold_usd=Decimal(1000), alert_type="hard_stop")
    tracker = Tracker(through, spool_dir=tmp_path / "spool", retry_interval_s=0.2)
    ran: list[str] = []

    @track_agent("decorated", tracker=tracker)
    def decorated(i: int) -> int:
        ran.append("decorated")
        return i

    @track_agent("decorated_async", tracker=tracker)
    async def decorated_async(i: int) -> int:
        ran.append("decorated_async")
        return i

    record_one(tracker, "before")  # the check and the writer now hold connections to the proxy
    assert tracker.flush(timeout=30) and counts(direct) == (1, 2, 1)

    proxy.stop()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="aa_notebooks"):
        for _ in range(3):
            record_one(tracker, "context")
            ran.append("context")
        with (
            pytest.raises(ValueError, match="the agent's own"),  # still the agent's to see
            tracker.execution(agent_name="raises"),
        ):
            raise ValueError("the agent's own error")
        assert [decorated(i) for i in range(3)] == [0, 1, 2]
        assert [await decorated_async(i) for i in range(2)] == [0, 1]
        with session_factory(through)() as session:
            execution = track_agent_execution_sync(
                session, None, "documented", "react", "gpt-4o", 1200, 300, 100
            )
            record_trace_step_sync(session, execution.id, 1, "thought", "plan", 40, 1200, 300)
            record_token_usage_sync(session, execution.id, "main_agent", "gpt-4o", 1200, 300, 1)
        async with async_session_factory(through)() as session:
            awaited = await track_agent_execution(
                session, None, "documented_async", "react", "gpt-4o", 1200, 300, 100
            )
            await record_trace_step(session, awaited.id, 1, "thought", "plan", 40)
            await record_token_usage(session, awaited.id, "main_agent", "gpt-4o", 1200, 300, 1)
        assert flush(timeout=30)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "unreachable" in warnings[0].getMessage() and "aa_test@" not in str(warnings[0].msg)
    assert ran == ["context"] * 3 + ["decorated"] * 3 + ["decorated_async"] * 2
    assert counts(direct) == (1, 2, 1)  # nothing reached the database meanwhile
    assert execution.agent_name == "documented" and execution.cost_usd == Decimal("0.006000")

    proxy.start()
    assert flush(timeout=60)
    tracker.close()
    assert flush(timeout=60)  # a second flush replays nothing twice
    names = sorted(row["agent_name"] for row in executions(direct))
    assert names == sorted(
        ["before", "raises", "documented", "documented_async"]
        + ["context"] * 3 + ["decorated"] * 3 + ["decorated_async"] * 2
    )  # fmt: skip
    # steps: 2 per record_one run (4 runs), 1 per document call (2); usages: 1 + 1 + 2
    assert counts(direct) == (12, 10, 6)
    with session_factory(direct)() as session:
        stored = session.get(AgentExecution, execution.id)
        assert stored is not None and stored.cost_usd == Decimal("0.006000")
        raised = session.scalars(
            select(AgentExecution).where(AgentExecution.agent_name == "raises")
        )
        assert [(r.status.value, r.error_type) for r in raised] == [("failure", "ValueError")]
