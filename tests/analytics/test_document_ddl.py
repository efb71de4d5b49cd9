"""Every analytics function, read-only, on a PostgreSQL database made by the contract's own DDL.

The database has no kit additions (no flow_id, no budget name/target, a users table with only
an id) and no indexes of the kit's; rows go in with plain INSERTs, then the database is made
read-only for every new session, so any write by the analytics would fail.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InternalError

from aa_notebooks.analytics import Analytics, connect
from aa_notebooks.analytics.model_split import favour_index_probes
from aa_notebooks.analytics.source import Source
from aa_notebooks.budgets.client import BudgetClient
from aa_notebooks.errors import InvalidInputError, StoredValueError
from tests.analytics import dataset, usage_dataset
from tests.analytics.dataset import DROP, PLANNER_ID, SCRIPT, U1, UNPRICED, E
from tests.conftest import drop_postgres_database, new_postgres_database

pytestmark = pytest.mark.postgres
DDL = Path(__file__).parents[1] / "db" / "document_ddl.sql"  # one copy of the data contract's DDL


def _admin(url: str, statement: str) -> None:
    engine = create_engine(
        make_url(url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


@pytest.fixture
def document_url() -> Iterator[str]:
    """A fresh database with exactly the data contract's tables and the dataset, read-only."""
    url, name = new_postgres_database()
    _admin(url, DDL.read_text(encoding="utf-8"))
    dataset.load_plain_sql(url)
    _admin(url, f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    yield url
    drop_postgres_database(url, name)


@pytest.fixture
def document(document_url: str) -> Analytics:
    return connect(document_url, now=lambda: dataset.NOW)


@pytest.fixture
def usage_document_url() -> Iterator[str]:
    """The usage dataset (tests/analytics/usage_dataset.py) in a read-only document database,
    whose tokenusages table has no index at all."""
    url, name = new_postgres_database()
    _admin(url, DDL.read_text(encoding="utf-8"))
    usage_dataset.load_plain_sql(url)
    _admin(url, f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    yield url
    drop_postgres_database(url, name)


@pytest.fixture
def odd_values() -> Iterator[Analytics]:
    """The dataset plus values PostgreSQL holds and Python cannot: E01's second step stamped
    'infinity', and a copy of E01 that cost 'NaN' (both NUMERIC and timestamp take them)."""
    url, name = new_postgres_database()
    _admin(url, DDL.read_text(encoding="utf-8"))
    dataset.load_plain_sql(url)
    _admin(url, f"""
        UPDATE executiontraces SET timestamp = 'infinity'
         WHERE execution_id = '{E[1]}' AND step_number = 2;
        CREATE TEMPORARY TABLE copy AS SELECT * FROM agentexecutions WHERE id = '{E[1]}';
        UPDATE copy SET id = '{dataset.eid(99)}', cost_usd = 'NaN';
        INSERT INTO agentexecutions SELECT * FROM copy;
    """)  # fmt: skip
    _admin(url, f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    yield connect(url, now=lambda: dataset.NOW)
    drop_postgres_database(url, name)


def test_values_python_cannot_hold_are_skipped_or_said(odd_values: Analytics) -> None:
    """A NaN cost made every total NaN (a bare decimal.InvalidOperation in the dashboard and
    the overview): sums skip it as they skip NULL. An 'infinity' step made psycopg's DataError
    come out of the trace view as a traceback: it is a StoredValueError saying what to fix."""
    overview = odd_values.overview()
    assert (overview.total_executions, overview.total_cost_usd) == (9, Decimal("0.016025"))
    assert re.search(r"Total cost\s+\$0\.02\n", str(overview)), str(overview)
    assert odd_values.cost_summary().frame["cost_usd"].sum() == pytest.approx(0.016025)
    with pytest.raises(StoredValueError, match=(
        r"a stored time is outside what Python holds \(timestamp too large \(after year 10K\)"
        r".*\): another program wrote it; set it to a real time \(or NULL\) to read this row"
    )):  # fmt: skip
        odd_values.execution(E[1])
    nan = str(odd_values.execution(dataset.eid(99)))  # counted as no cost, as NULL is
    assert re.search(r"cost_usd\s+\$0\.00\n", nan), nan


def test_timestamptz_columns_in_a_database_of_another_time_zone_read_in_utc() -> None:
    """The DDL with TIMESTAMPTZ, the database in America/New_York: the kit's UTC bounds were read
    in New York time, so the 23rd showed 2 runs and $2 where it holds 3 and $3 (01:00, 02:00
    and 12:00 UTC), and a hard stop saw none of a day's spend."""
    url, name = new_postgres_database()
    try:
        _admin(url, DDL.read_text(encoding="utf-8").replace("TIMESTAMP", "TIMESTAMPTZ"))
        _admin(url, f"ALTER DATABASE \"{name}\" SET timezone TO 'America/New_York'")
        for at in ("2026-11-23 01:00+00", "2026-11-23 02:00+00", "2026-11-23 12:00+00",
                   "2026-11-24 03:00+00"):  # fmt: skip
            _admin(url, "INSERT INTO agentexecutions (id, request_id, session_id, agent_name, "
                        "model_name, status, cost_usd, execution_time_ms, started_at) VALUES "
                        "(gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 'planner', "
                        f"'gpt-4o', 'success', 1, 100, '{at}')")  # fmt: skip
        client = connect(url, now=lambda: dataset.NOW)
        day = client.overview(start_date="2026-11-23", end_date="2026-11-23")
        assert (day.total_executions, day.total_cost_usd) == (3, Decimal("3.000000"))
        by_day = client.cost_summary(start_date="2026-11-23", end_date="2026-11-24", by="day")
        assert by_day.frame["executions"].tolist() == [3, 1]
    finally:
        drop_postgres_database(url, name)


def test_the_database_refuses_writes(document_url: str) -> None:
    with pytest.raises(InternalError, match="read-only transaction"):
        _admin(document_url, "DELETE FROM agentexecutions")


def test_summaries(document: Analytics) -> None:
    overview = document.overview()
    assert (overview.total_executions, overview.success_rate) == (8, 62.5)
    assert (overview.p50_ms, overview.p95_ms, overview.p99_ms) == (1500.0, 79400.0, 111880.0)
    assert overview.total_cost_usd == Decimal("0.016025")
    assert overview.monthly_projection_usd == Decimal("0.068679")
    assert (overview.active_agents, overview.unpriced_models) == (4, (UNPRICED,))
    assert list(document.top_agents().frame["agent"]) == ["planner", SCRIPT, DROP, "researcher"]
    assert list(document.cost_summary().frame["cost_usd"]) == [0.0086, 0.007425, 0.0]
    assert list(document.cost_summary(by="day").frame["executions"]) == [2, 0, 1, 0, 1, 1, 1, 2]
    models = document.compare_models().frame.set_index("model")
    assert models.loc["claude-3-5-sonnet", "p95_ms"] == 3670.0
    assert list(document.timeseries().frame["p95_ms"].fillna(-1)) == [
        3900.0, -1, 250.0, -1, 3000.0, 120000.0, 700.0, 975.0,
    ]  # fmt: skip
    forecast = document.cost_forecast()
    assert (forecast.actual_to_date_usd, forecast.projected_usd) == (
        Decimal("1.516025"),
        Decimal("2.312445"),
    )


def test_what_the_dashboard_reads(document: Analytics) -> None:
    summary = document.breakdown("7d", limit=2)
    assert summary.overview == document.overview("7d")
    assert list(summary.top_agents.frame["agent"]) == ["planner", SCRIPT]
    assert list(summary.cost_by_model.frame["cost_usd"]) == [0.0086, 0.007425, 0.0]
    assert document.active_users("7d") == tuple(sorted((str(U1), str(dataset.U2))))
    series = document.cost_timeseries(start_date="2026-11-25", end_date="2026-11-25").frame
    assert list(zip(series["model"], series["executions"], strict=True)) == [
        ("claude-3-5-sonnet", 1), ("gpt-4o", 2)
    ]  # fmt: skip
    assert list(BudgetClient.of(document).status()) == []
    assert BudgetClient.of(document).alert_events("7d").frame.empty


def test_executions_agents_and_detail(document: Analytics, document_url: str) -> None:
    page = document.executions(status="failure")
    assert list(page.rows["id"]) == [str(E[3]), str(E[7])]
    assert "flow_id" not in page.rows.columns  # the data contract has no flow_id
    stats = document.agent_stats(PLANNER_ID)
    assert (stats.total_executions, stats.p95_ms, stats.total_cost_usd) == (
        4,
        2850.0,
        Decimal("0.004600"),
    )
    detail = document.execution(E[1])
    assert list(detail.traces["step_number"]) == [1, 2, 3, 4]
    assert list(detail.token_usage["component"]) == ["main_agent", "tool_call"]
    scoped = connect(document_url, user_id=U1, now=lambda: dataset.NOW)
    assert scoped.overview().total_executions == 5


def test_export_and_sql(document: Analytics) -> None:
    items = json.loads(document.export("json", include_traces=True, include_token_usage=True))
    assert len(items) == 8 and "flow_id" not in items[0]
    assert [s["step_number"] for s in items[-1]["trace_steps"]] == [1, 2, 3, 4]
    query = "SELECT count(*) AS n FROM agentexecutions WHERE started_at < :t"
    assert document.sql(query, {"t": "2026-11-01"})["n"].item() == 1  # E12
    with pytest.raises(InvalidInputError, match="refused: DELETE changes data"):
        document.sql("DELETE FROM agentexecutions")
    assert document.sql("SELECT count(*) AS n FROM agentexecutions")["n"].item() == 12


def test_cost_by_model_from_the_usage_rows(usage_document_url: str) -> None:
    """As tests/analytics/test_cost_by_model.py works it out by hand."""
    usage_document = connect(usage_document_url, now=lambda: usage_dataset.NOW)
    costs = [0.008473, 0.0051, 0.001273, 0.0, 0.0]
    frame = usage_document.cost_summary("7d", by="model").frame
    assert frame["model"].fillna("(none)").tolist() == [
        "gpt-4o", usage_dataset.CLAUDE, usage_dataset.MINI, usage_dataset.UNPRICED, "(none)"
    ]  # fmt: skip
    assert frame["executions"].tolist() == [2, 2, 5, 1, 1]
    assert frame["cost_usd"].tolist() == costs
    summary = usage_document.breakdown("7d")
    assert summary.cost_by_model.frame["cost_usd"].tolist() == costs
    assert summary.overview.unpriced_models == (usage_dataset.UNPRICED,)
    # Without an index on tokenusages.execution_id, the planner keeps its hash join.
    source = Source.open(make_url(usage_document_url), None)
    with source.connect() as connection:
        favour_index_probes(source, connection)
        assert connection.exec_driver_sql("SHOW enable_hashjoin").scalar_one() == "on"
    series = usage_document.cost_timeseries("7d", by="model").frame
    per_model = series.groupby(series["model"].fillna("(none)"), sort=False)["cost_usd"].sum()
    assert per_model.round(6).tolist() == [0.0, 0.0051, 0.008473, 0.001273, 0.0]  # by name
