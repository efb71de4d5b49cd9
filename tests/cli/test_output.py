"""What the CLI prints: control characters in agent text are shown, never sent to the terminal."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from aa_notebooks.cli import main
from aa_notebooks.cli.output import render, terminal_safe
from aa_notebooks.db.engine import get_engine
from aa_notebooks.tracking import Run
from aa_notebooks.tracking.store import write_batch
from tests.cli.test_database_commands import document_sqlite_with_run


def test_terminal_safe_escapes_controls_but_newline_and_tab() -> None:
    assert terminal_safe("a\x1b]0;title\x07b\x1b[8mc\rd\x7f\x9be\tf\ng") == (
        "a\\x1b]0;title\\x07b\\x1b[8mc\\x0dd\\x7f\\x9be\tf\ng"
    )


def test_a_table_of_an_agent_named_with_escapes_prints_them_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = document_sqlite_with_run(tmp_path / "agentos.db", agent_name="evil\x1b]0;pwned\x07")
    window = ["--start-date", "2026-11-01", "--end-date", "2026-11-30"]
    assert main(["--db", url, "top-agents", *window]) == 0
    out = capsys.readouterr().out
    assert "evil\\x1b]0;pwned\\x07" in out
    assert "\x1b" not in out and "\x07" not in out


def test_a_warning_is_one_line_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The odd-times advice, not Python's warning with its file, line and source."""
    url = document_sqlite_with_run(tmp_path / "agentos.db", started_at="2026-11-05T10:00:00+00:00")
    assert main(["--db", url, "overview", "--period", "7d"]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("aa-notebooks: warning: ")
    assert "agentexecutions.started_at holds times like '2026-11-05T10:00:00+00:00'" in lines[0]


def test_an_export_to_stdout_is_the_data_as_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only tables and reports are made safe for the terminal: exported text is data."""
    assert render("a\x1b[31mb\r\nc") == "a\x1b[31mb\r\nc"
    url = document_sqlite_with_run(tmp_path / "agentos.db", agent_name="red\x1b[31m\x85")
    window = ["--start-date", "2026-11-01", "--end-date", "2026-11-30"]
    assert main(["--db", url, "export", "--format", "json", *window]) == 0
    assert json.loads(capsys.readouterr().out)[0]["agent_name"] == "red\x1b[31m\x85"


def test_json_of_a_result_with_two_columns_of_one_name_keeps_both() -> None:
    """`sql --format json` of a join keeping both tables' id failed: "DataFrame columns must
    be unique"."""
    frame = pd.DataFrame([[1, 2, "x"], [3, 4, "y"]], columns=["id", "id", "agent"])
    assert json.loads(render(frame, "json")) == [
        {"id": 1, "id.1": 2, "agent": "x"}, {"id": 3, "id.1": 4, "agent": "y"},
    ]  # fmt: skip
    assert render(frame, "table").splitlines()[0].split() == ["id", "id", "agent"]


def test_sql_as_json_gives_money_as_numbers_on_either_database(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """PostgreSQL's NUMERIC came out as text ("0.001500") where SQLite's REAL is a number: a
    program reading both had to know which database it read."""
    run = Run(agent_name="a")
    run.tokens("main", "gpt-4o", 100, 0)  # 100 * $2.50 / 1M = $0.00025
    write_batch(get_engine(db_url), [run.finish()])
    query = "SELECT cost_usd, SUM(cost_usd) * 1000000 AS micro FROM agentexecutions GROUP BY 1"
    assert main(["--db", db_url, "sql", query, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"cost_usd": 0.00025, "micro": 250.0}]


def test_json_times_keep_their_microseconds_on_either_database(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A table's times came out through pandas' ISO form: milliseconds only, "Z", a date as
    midnight; `tail` and `export` wrote them in full. Every JSON now writes Python's ISO form."""
    started = datetime(2026, 11, 5, 10, 0, 0, 123456, tzinfo=UTC)
    run = Run(agent_name="a")
    run.tokens("main", "gpt-4o", 100, 0)
    record = run.finish()
    record.execution["started_at"] = started
    record.execution["completed_at"] = started + timedelta(microseconds=250_001)
    write_batch(get_engine(db_url), [record])
    window = ["--start-date", "2026-11-01", "--end-date", "2026-11-30"]
    assert main(["--db", db_url, "executions", *window, "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["rows"]
    assert row["started_at"] == "2026-11-05T10:00:00.123456+00:00"
    assert row["completed_at"] == "2026-11-05T10:00:00.373457+00:00"
    assert main(["--db", db_url, "timeseries", *window, "--format", "json"]) == 0
    buckets = json.loads(capsys.readouterr().out)["frame"]
    assert [bucket["bucket"] for bucket in buckets if bucket["executions"]] == [
        "2026-11-05T00:00:00+00:00"
    ]


def test_sql_as_json_gives_ids_as_text_and_intervals_in_iso_on_either_database(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A PostgreSQL uuid column failed the whole command ("Unsupported UTF-8 sequence length")."""
    run = Run(agent_name="a")
    record = run.finish()
    write_batch(get_engine(db_url), [record])
    assert main(["--db", db_url, "sql", "SELECT id FROM agentexecutions", "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert uuid.UUID(row["id"]) == record.id
    if db_url.startswith("postgresql"):
        query = "SELECT interval '90 minutes' AS took"
        assert main(["--db", db_url, "sql", query, "--format", "json"]) == 0
        assert json.loads(capsys.readouterr().out) == [{"took": "P0DT1H30M0S"}]
