"""The dashboard's "In flight" panel, from tests/analytics/test_running.py's hand-made runs
read at its fixed clock: 4 runs (A, C running; B, D lost), oldest A at 120 s."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import insert

from aa_notebooks.analytics import connect
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import RunningExecution
from aa_notebooks.ui import Dashboard
from aa_notebooks.ui.in_flight_panel import IDLE, InFlightPanel
from tests.analytics.test_running import NOW, insert_runs


def test_the_dashboard_shows_runs_in_flight_per_agent(db_url: str, tmp_path) -> None:
    url = insert_runs(db_url)
    dashboard = Dashboard(connect(url, now=lambda: NOW), export_dir=tmp_path)
    panel = dashboard.in_flight
    assert panel.headline == "4 runs in flight · 2 lost · oldest 2m 00s"
    assert [(r["Agent"], r["Running"], r["Lost"], r["Oldest age"]) for r in panel.rows] == [
        ("alpha", "1", "1", "2m 00s"),
        ("beta", "1", "0", "20.00 s"),
        ("(no agent)", "0", "1", "5.00 s"),
    ]
    assert panel.rows[0]["Oldest started"] == "2026-12-04 11:58:00 UTC"


def test_a_users_dashboard_shows_only_their_runs(db_url: str, tmp_path) -> None:
    url = insert_runs(db_url)
    scoped = connect(url, user_id="00000000-0000-4000-8000-0000000000a1", now=lambda: NOW)
    panel = Dashboard(scoped, export_dir=tmp_path).in_flight
    assert panel.headline == "2 runs in flight · oldest 2m 00s"


def test_nothing_in_flight_says_so(db_url: str, tmp_path) -> None:
    panel = Dashboard(connect(db_url), export_dir=tmp_path).in_flight
    assert (panel.headline, panel.rows) == (IDLE, [])


def test_agent_names_are_escaped(db_url: str) -> None:
    moment = datetime.now(UTC)
    row = {
        "id": uuid.uuid4(), "agent_name": "<script>alert(1)</script>",
        "started_at": moment - timedelta(seconds=3), "heartbeat_at": moment,
        "heartbeat_every_s": 5.0, "writer_id": "w",
    }  # fmt: skip
    with get_engine(db_url).begin() as connection:
        connection.execute(insert(RunningExecution), [row])
    panel = InFlightPanel()
    panel.show(connect(db_url).running(by_agent=True))
    assert "<script>" not in panel.widget.value
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in panel.widget.value
    assert panel.headline.startswith("1 run in flight · oldest ")


def test_an_empty_summary_frame() -> None:
    panel = InFlightPanel()
    panel.show(pd.DataFrame(columns=["agent_name", "running", "lost"]))
    assert panel.headline == IDLE
