"""`%agent_analytics anomalies` in a real IPython shell, over the hand-made series of
tests/analytics/series.py, on SQLite and PostgreSQL."""

from __future__ import annotations

import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell

from tests.analytics import series

WINDOW = f"--start-date {series.START_DATE} --end-date {series.END_DATE}"


@pytest.fixture
def shell(ip: InteractiveShell, db_url: str) -> InteractiveShell:
    series.load(db_url)
    ip.run_line_magic("config", f"AgentAnalytics.database_url = {db_url!r}")
    return ip


def test_anomalies_returns_a_dataframe(shell: InteractiveShell) -> None:
    frame = shell.run_line_magic("agent_analytics", f"anomalies {WINDOW}")
    assert isinstance(frame, pd.DataFrame)
    assert frame.attrs["title"] == "Anomalies by agent"
    assert list(frame["group"]) == ["beta", "alpha", "weekly", "gamma"]
    assert list(frame["metric"]) == ["p95_ms", "cost_usd", "cost_usd", "failure_rate"]


def test_anomalies_by_model_saved_to_a_variable(shell: InteractiveShell) -> None:
    shell.run_line_magic("agent_analytics", f"anomalies --by model --model acme {WINDOW} -o found")
    found = shell.user_ns["found"]
    assert list(zip(found["group"], found["metric"], strict=True)) == [("acme", "failure_rate")]


def test_bad_option_is_one_clear_line(shell: InteractiveShell) -> None:
    with pytest.raises(Exception) as error:
        shell.run_line_magic("agent_analytics", f"anomalies --baseline-days 3 {WINDOW}")
    assert "baseline_days must be a whole number 14-365; got 3" in str(error.value)
