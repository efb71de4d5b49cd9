"""`aa-notebooks running`: the runs in flight of tests/analytics/test_running.py's rows."""

from __future__ import annotations

import json

import pytest

from aa_notebooks.cli import main
from tests.analytics.test_running import IDS, U1, insert_runs


def test_the_cli_prints_them_as_json(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    url = insert_runs(db_url)
    assert main(["--db", url, "--user", str(U1), "running", "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [(row["id"], row["query_preview"]) for row in shown] == [
        (IDS["A"], "q A"),
        (IDS["C"], "q C"),
    ]
