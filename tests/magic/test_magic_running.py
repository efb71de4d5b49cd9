"""`%agent_analytics running` in a real IPython shell: the runs in flight of
tests/analytics/test_running.py's hand-made rows."""

from __future__ import annotations

from IPython.core.interactiveshell import InteractiveShell

from tests.analytics.test_running import insert_runs


def test_the_magic_returns_the_runs(db_url: str, ip: InteractiveShell) -> None:
    url = insert_runs(db_url)
    ip.run_line_magic("config", f"AgentAnalytics.database_url = {url!r}")
    runs = ip.run_line_magic("agent_analytics", "running")
    assert sorted(runs["agent_name"].fillna("-")) == ["-", "alpha", "alpha", "beta"]
    summary = ip.run_line_magic("agent_analytics", "running --by-agent")
    assert dict(zip(summary["agent_name"], summary["running"] + summary["lost"], strict=True)) == {
        "alpha": 2, "beta": 1, "(no agent)": 1,
    }  # fmt: skip
