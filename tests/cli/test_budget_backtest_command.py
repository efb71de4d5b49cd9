"""`aa-notebooks budgets backtest`: the hand-made history of tests/budgets/test_backtest.py laid
out relative to the real clock (the command replays up to now), as JSON and as text; bad
options in one line."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.budgets.test_backtest import load
from tests.cli.test_database_commands import run


def test_the_command_line(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    ids = load(db_url, datetime.now(UTC))
    argv = ["--db", db_url, "budgets", "backtest", "--threshold-usd", "1", "--period-days", "1",
            "--scope", "agent", "--target", "planner", "--alert-type", "hard_stop",
            "--days", "10"]  # fmt: skip
    code, out, _ = run(capsys, *argv, "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert [row["id"] for row in document["refused"]] == [str(ids[3]), str(ids[7])]
    assert Decimal(document["saved_usd"]) == Decimal("0.60")
    code, out, _ = run(capsys, *argv)
    assert code == 0 and "refused: 2 executions, saving $0.60" in out
    assert " 80% ($0.80) would have fired 2 time(s)" in out  # P1, P5
    assert "100% ($1.00) would have fired 2 time(s)" in out  # P2, P6
    code, _, err = run(capsys, "--db", db_url, "budgets", "backtest", "--levels", "50,x")
    assert code == 2 and "expected percentages like 50,80,100, got '50,x'" in err
    code, _, err = run(capsys, "--db", db_url, "budgets", "backtest")
    assert code == 2 and "`budgets backtest` needs --threshold-usd" in err
