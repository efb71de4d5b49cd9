"""The cost report's Anomalies section, run end to end in a real kernel, over the hand-made series
of tests/analytics/series.py with alpha renamed to text that is HTML."""

from __future__ import annotations

import pytest

from aa_notebooks.reporting import run_report
from tests.analytics import series
from tests.reporting.html_tables import table_with

pytestmark = pytest.mark.slow
ALPHA = "alpha <b>bold</b>"


@pytest.fixture
def spiky_db(db_url: str) -> str:
    rows = [
        {**row, "agent_name": ALPHA} if row["agent_name"] == "alpha" else row
        for row in series.rows()
    ]
    series.load(db_url, rows)
    return db_url


def test_cost_report_lists_the_known_spikes(spiky_db: str, tmp_path) -> None:
    result = run_report(
        "cost", database_url=spiky_db, as_of=series.NOW.isoformat(), output_dir=tmp_path,
        start_date=series.START_DATE, end_date=series.END_DATE, progress=False,
    )  # fmt: skip
    html = result.html_path.read_text()
    assert "<b>bold</b>" not in html
    assert "alpha &lt;b&gt;bold&lt;/b&gt;" in html
    rows = table_with(html, "Robust z")
    # by agent and by model, most extreme first (z as in tests/analytics/test_anomalies.py)
    assert rows == [
        ["Day (UTC)", "By", "Agent or model", "Metric", "Value", "Usual", "Robust z"],
        ["2026-11-25", "agent", "beta", "P95 latency", "5.00 s", "1.01 s", "+268.8"],
        ["2026-11-25", "model", "claude", "P95 latency", "5.00 s", "1.01 s", "+268.8"],
        ["2026-11-26", "agent", ALPHA, "Cost", "$1.00", "$0.11", "+60.4"],
        ["2026-11-26", "model", "gpt-4o", "Cost", "$1.00", "$0.11", "+60.4"],
        ["2026-11-24", "agent", "weekly", "Cost", "$1.00", "$0.11", "+60.0"],
        ["2026-11-24", "model", "weekly", "Cost", "$1.00", "$0.11", "+60.0"],
        ["2026-11-27", "agent", "gamma", "Failure rate", "75.0%", "0.0%", "+9.6"],
        ["2026-11-27", "model", "acme", "Failure rate", "75.0%", "0.0%", "+9.6"],
    ]
