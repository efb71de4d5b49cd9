"""`%agent_analytics budgets backtest` in a real IPython shell, over the hand-made history of
tests/budgets/test_backtest.py laid out relative to the real clock."""

from __future__ import annotations

from datetime import UTC, datetime

from IPython.core.interactiveshell import InteractiveShell

from tests.budgets.test_backtest import load


def test_the_magic(ip: InteractiveShell, db_url: str) -> None:
    ids = load(db_url, datetime.now(UTC))
    ip.run_line_magic("config", f"AgentAnalytics.database_url = {db_url!r}")
    line = ("budgets backtest --threshold-usd 3 --period-days 10 --scope agent "
            "--target planner --levels 50,80 --days 10 -o bt")  # fmt: skip
    ip.run_line_magic("agent_analytics", line)
    result = ip.user_ns["bt"]
    assert list(result.events["execution_id"]) == [str(ids[3]), str(ids[6]), str(ids[8])]
    assert "Budget backtest" in result._repr_html_()
    shown = ip.display_formatter.format(result)[0]  # its own HTML; in a terminal, its text
    assert shown["text/html"] == result._repr_html_()
    assert shown["text/plain"] == str(result) and "BudgetBacktest(" not in shown["text/plain"]
