"""Empty periods, traces without steps, missing databases and failed refreshes: said in words."""

from __future__ import annotations

import html
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from aa_notebooks.analytics import Analytics
from aa_notebooks.errors import InvalidInputError
from aa_notebooks.ui import Dashboard, NoDatabase, TraceExplorer, open_dashboard, open_trace
from tests.ui.conftest import html_of
from tests.ui.dataset import eid


def _execute(url: str, statement: str) -> None:
    drivers = {"sqlite": "sqlite+pysqlite", "postgresql": "postgresql+psycopg"}
    parsed = make_url(url)
    engine = create_engine(parsed.set(drivername=drivers[parsed.get_backend_name()]))
    try:
        with engine.begin() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


def shown_text(widget: object) -> str:
    return "\n".join(html_of(widget))  # type: ignore[arg-type]


def test_no_executions_in_the_period(dashboard: Dashboard):
    dashboard.set_period(start_date="2020-01-01", end_date="2020-01-31")
    assert dashboard.message.startswith("No executions in 2020-01-01 to 2020-01-31")
    assert dashboard.kpis["Total Executions"] == "0"
    assert dashboard.kpis["Success Rate"] == "–"
    for panel in (dashboard.activity, dashboard.cost_by_model, dashboard.cost_over_time):
        assert panel.empty_text is not None and "no executions in 2020-01-01" in panel.empty_text
    assert dashboard.top_agents.rows == [] and dashboard.recent.rows(0, 10) == []
    assert dashboard.recent.total == 0  # the grid says "No executions match."
    markup = shown_text(dashboard.widget)
    assert markup.count("No executions in 2020-01-01 to 2020-01-31") >= 2  # message, top agents
    dashboard.set_period("7d")
    assert dashboard.message == "" and dashboard.kpis["Total Executions"] == "5"


def test_execution_without_trace_steps(analytics: Analytics):
    trace = TraceExplorer(analytics, eid(2))
    assert trace.error is None and trace.steps == [] and trace.token_usage == []
    assert trace.header["Query"] == "What is 6*7?"
    markup = shown_text(trace.widget)
    assert "This execution has no trace steps recorded." in markup
    assert "No token usage recorded." in markup


def test_unknown_execution(analytics: Analytics):
    missing = uuid.UUID(int=7)
    trace = TraceExplorer(analytics, missing)
    assert trace.error is not None and f"no execution with id {missing}" in trace.error
    assert trace.error in shown_text(trace.widget)


def test_no_database_yet(tmp_path: Path):
    missing = tmp_path / "nothing-here.db"
    shown = open_dashboard(f"sqlite:///{missing}")
    assert isinstance(shown, NoDatabase)
    assert "no database yet" in shown.message and "aa-notebooks seed" in shown.message
    assert not missing.exists()
    assert "no database yet" in shown.widget.value
    assert isinstance(open_trace(eid(1), f"sqlite:///{missing}"), NoDatabase)


def test_unreachable_server():
    shown = open_dashboard("postgresql://someone:s3cret@127.0.0.1:1/analytics")
    assert isinstance(shown, NoDatabase)
    assert "cannot open database" in shown.message and "s3cret" not in shown.message


def test_database_without_the_kit_tables(empty_db_url: str):
    _execute(empty_db_url, "CREATE TABLE unrelated (id INTEGER)")  # the file or database exists
    shown = open_dashboard(empty_db_url)
    assert isinstance(shown, NoDatabase)
    assert "has no agentexecutions table" in shown.message


def test_refresh_errors_show_as_a_message(dashboard: Dashboard, url: str):
    _execute(url, "ALTER TABLE agentexecutions RENAME TO agentexecutions_gone")
    dashboard.set_period("30d")
    assert dashboard.message.startswith(
        ("Refresh failed: ", "cannot open database", "the database lacks a table")
    )
    assert "agentexecutions" in dashboard.message
    assert "\n" not in dashboard.message
    assert html.escape(dashboard.message) in shown_text(dashboard.widget)
    assert dashboard.kpis["Total Executions"] == "5"  # the last good numbers stay
    assert "Refresh failed" in dashboard.controls.status.value
    _execute(url, "ALTER TABLE agentexecutions_gone RENAME TO agentexecutions")
    dashboard.refresh()
    assert dashboard.message == "" and dashboard.kpis["Total Executions"] == "8"
    assert "Updated" in dashboard.controls.status.value


def test_invalid_custom_dates_are_refused(dashboard: Dashboard):
    with pytest.raises(InvalidInputError, match="before start_date"):
        dashboard.set_period(start_date="2026-11-20", end_date="2026-11-01")
    with pytest.raises(InvalidInputError, match="both a start_date and an end_date"):
        dashboard.set_period(start_date="2026-11-20")
    assert dashboard.kpis["Total Executions"] == "5"
