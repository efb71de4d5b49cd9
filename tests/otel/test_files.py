"""`aa-notebooks ingest FILE...` on OTLP/JSON lines as the Collector's file exporter writes them
(plain and .gz), a trace split over lines, a bad line, a resent file (SQLite and PostgreSQL)."""

from __future__ import annotations

import gzip
import json
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text

from aa_notebooks.analytics import connect
from aa_notebooks.cli import main
from aa_notebooks.db.engine import get_engine
from aa_notebooks.otel.mapping import execution_id
from tests.cli.test_database_commands import document_sqlite
from tests.otel.builders import TRACE, genai_run, to_json_document

OTHER_TRACE = "5bf92f3577b34da6a3ce929d0e0e4737"


def _counts(url: str) -> tuple[int, int, int]:
    with get_engine(url).connect() as connection:
        return tuple(  # type: ignore[return-value]
            connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
            for table in ("agentexecutions", "executiontraces", "tokenusages")
        )


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    """Line 1: a run's children; line 2: not JSON; line 3: its root. A .gz with another run."""
    root, *children = genai_run()
    plain = tmp_path / "traces.jsonl"
    plain.write_text(
        "\n".join([
            json.dumps(to_json_document(children)), "{not json",
            json.dumps(to_json_document([root])),
        ]) + "\n"
    )  # fmt: skip
    packed = tmp_path / "more.jsonl.gz"
    packed.write_bytes(gzip.compress(json.dumps(to_json_document(genai_run(OTHER_TRACE))).encode()))
    return [plain, packed]


def test_ingest_reads_plain_and_gzip_files_and_a_resent_file_doubles_nothing(
    db_url: str, files: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(2):
        code = main(["--db", db_url, "ingest", "--no-progress", *map(str, files)])
        out = capsys.readouterr().out
        assert code == 1  # the malformed line: skipped, named, and the exit status says so
        assert out.splitlines() == [
            "2 file(s), 4 line(s), 10 span(s): 2 execution(s) written, 2 span(s) of no agent "
            "or LLM call ignored, 0 refused, 1 line(s) skipped",
            f"  {files[0]}:2: the body is not JSON (Expecting property name enclosed in double "
            "quotes: line 1 column 2 (char 1))",
        ]
    assert _counts(db_url) == (2, 8, 4)
    analytics = connect(db_url)
    for trace in (TRACE, OTHER_TRACE):
        row = analytics.execution(execution_id(trace, "a000000000000001")).execution
        assert (row["agent_name"], row["input_tokens"], row["output_tokens"]) == (
            "Weather", 2500, 300,
        )  # fmt: skip
        assert Decimal(str(row["cost_usd"])) == Decimal("0.00499")  # with cache reads at their rate


def test_a_missing_file_is_one_clear_line(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--db", db_url, "ingest", str(tmp_path / "nope.jsonl")])
    err = capsys.readouterr().err
    assert code != 0
    assert err.strip().endswith(f"{tmp_path / 'nope.jsonl'}: no such file (give OTLP/JSON files, "
                                ".gz allowed)")  # fmt: skip
    assert "Traceback" not in err


def test_runs_the_database_refuses_are_counted_as_refused_not_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a database made by the data contract's DDL, a run of a user missing from users is
    refused by the foreign key: the report says so, and where the run is kept."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    path = tmp_path / "document.db"
    url = document_sqlite(path)
    traces = tmp_path / "stranger.jsonl"
    traces.write_text(json.dumps(to_json_document(genai_run(user=str(uuid.uuid4())))) + "\n")
    assert main(["--db", url, "ingest", "--no-progress", str(traces)]) == 1  # a run refused
    summary, problem = capsys.readouterr().out.splitlines()
    assert summary == (
        "1 file(s), 1 line(s), 5 span(s): 0 execution(s) written, 1 span(s) of no agent or LLM "
        "call ignored, 1 refused, 0 line(s) skipped"
    )
    kept = next((tmp_path / "data").rglob("rejected.jsonl"))
    assert problem == f"  1 execution(s) refused when written, kept with why in {kept}"
    assert "FOREIGN KEY constraint failed" in kept.read_text()
    assert _counts(url) == (0, 0, 0)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"resourceSpans":[1]}', "expected a JSON object, got int"),
        ('{"resourceSpans":[{"scopeSpans":[{"scope":"x","spans":[]}]}]}', "got str"),
        ('{"resourceSpans":[{"resource":{"attributes":{"a":1}}}]}', "attributes must be a list"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_a_line_malformed_above_its_spans_is_skipped_and_named(
    tmp_path: Path, line: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The runs on the lines around it are written (the whole file used to stop there)."""
    url = f"sqlite:///{tmp_path / 'kit.db'}"
    path = tmp_path / "traces.jsonl"
    good = [json.dumps(to_json_document(genai_run(trace))) for trace in (TRACE, OTHER_TRACE)]
    path.write_text("\n".join([good[0], line, good[1]]) + "\n")
    assert main(["--db", url, "ingest", "--no-progress", str(path)]) == 1  # a line skipped
    out = capsys.readouterr().out
    assert "2 execution(s) written" in out and "1 line(s) skipped" in out
    assert f"{path}:2: " in out and reason in out
    assert _counts(url)[0] == 2


def test_a_file_with_no_otlp_in_it_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A database file given by mistake: every line skipped, nothing written, and the exit
    status said success (a cron backfill took it for done)."""
    url = f"sqlite:///{tmp_path / 'kit.db'}"
    wrong = tmp_path / "notes.txt"
    wrong.write_text("not json\nnor this\n")
    assert main(["--db", url, "ingest", "--no-progress", str(wrong)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (
        "1 file(s), 2 line(s), 0 span(s): 0 execution(s) written, 0 span(s) of no agent or LLM "
        "call ignored, 0 refused, 2 line(s) skipped"
    )
