"""Export CSV writes the current view's executions next to the notebook and offers a download."""

from __future__ import annotations

import base64
import io

import pandas as pd
from sqlalchemy import update

from aa_notebooks.analytics import Analytics, connect
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import AgentExecution
from aa_notebooks.ui import Dashboard
from tests.csv_cells import cells, formula_cells
from tests.ui.dataset import NOW, U2, eid


def test_export_writes_the_window_and_offers_a_download(dashboard: Dashboard, analytics: Analytics):
    dashboard.set_period("30d")
    dashboard.controls.export.click()  # as the button does
    exported = dashboard.exported
    assert exported is not None and exported.rows == 8
    assert exported.path.parent == dashboard._export_dir
    assert exported.path.name == "agent-executions_30d_all-users_20261125T120000Z.csv"
    written = exported.path.read_text(encoding="utf-8")
    assert written == analytics.export("csv", period=analytics.window("30d"))
    assert exported.download_url is not None
    payload = exported.download_url.removeprefix("data:text/csv;base64,")
    assert base64.b64decode(payload).decode("utf-8") == written
    assert dashboard.message == f"Exported 8 executions to {exported.path.name}"
    assert 'class="aa-download"' in dashboard._message.value


def test_export_follows_scope_and_dates(dashboard: Dashboard, url: str):
    dashboard.set_user(str(U2))
    dashboard.set_period(start_date="2026-11-01", end_date="2026-11-30")
    exported = dashboard.export_csv()
    assert exported is not None
    frame = pd.read_csv(io.StringIO(exported.path.read_text(encoding="utf-8")))
    assert set(frame["user_id"]) == {str(U2)} and len(frame) == 3  # E3, E4, E7
    scoped = connect(url, user_id=U2, now=lambda: NOW)
    window = scoped.window(start_date="2026-11-01", end_date="2026-11-30")
    assert exported.path.read_text(encoding="utf-8") == scoped.export("csv", period=window)
    assert exported.path.name.startswith(f"agent-executions_2026-11-01-to-2026-11-30_user-{U2}_")


def test_large_exports_skip_the_browser_link(dashboard: Dashboard, monkeypatch):
    monkeypatch.setattr("aa_notebooks.ui.export.DOWNLOAD_LIMIT", 10)
    exported = dashboard.export_csv()
    assert exported is not None and exported.download_url is None and exported.path.exists()
    assert "open it from the file browser" in dashboard._message.value


HYPERLINK = '=HYPERLINK("http://evil","x")'


def test_export_neutralises_formulas(dashboard: Dashboard, url: str):
    executions = AgentExecution.__table__
    with get_engine(url).begin() as conn:
        conn.execute(
            update(executions)
            .where(executions.c.id == eid(1))
            .values(query_preview=HYPERLINK, agent_name="+cmd|' /C calc'!A0")
        )
    exported = dashboard.export_csv()
    assert exported is not None
    written = exported.path.read_text(encoding="utf-8")
    assert formula_cells(written) == []
    assert {"'" + HYPERLINK, "'+cmd|' /C calc'!A0"} <= cells(written)
