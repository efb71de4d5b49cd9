"""`export`: CSV and JSON read back, formula escaping, nesting, files and chunking."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import stat
import threading
import uuid
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import make_url

from aa_notebooks.analytics import Analytics, ExportResult
from aa_notebooks.analytics import export as export_module
from aa_notebooks.errors import InvalidInputError
from tests.analytics.dataset import DROP, SCRIPT, E
from tests.csv_cells import formula_cells

OLDEST_FIRST = [E[n] for n in (2, 8, 7, 5, 4, 6, 3, 1)]


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_rows_and_formula_escaping(analytics: Analytics) -> None:
    rows = read_csv(analytics.export())
    assert [uuid.UUID(r["id"]) for r in rows] == OLDEST_FIRST
    preview = {uuid.UUID(r["id"]): r["query_preview"] for r in rows}
    assert preview[E[2]] == '\'\tShe said "hi" & left'  # tab
    assert preview[E[3]] == '\'=HYPERLINK("http://evil.example","click")'
    assert preview[E[5]] == "'+SUM(A1:A2)"
    assert preview[E[7]] == "'@cmd"
    assert preview[E[8]] == "'-2+3"
    assert preview[E[4]] == DROP  # starts with a quote already: not a formula
    assert preview[E[6]] == '<script>alert("preview")</script>'
    names = {r["agent_name"] for r in rows}
    assert names == {"planner", "researcher", SCRIPT, DROP}
    by_id = {uuid.UUID(r["id"]): r for r in rows}
    assert by_id[E[2]]["cost_usd"] == "0.003"  # numbers are not text: never prefixed
    assert by_id[E[2]]["started_at"] == "2026-11-18T12:00:00+00:00"
    assert by_id[E[5]]["error_type"] == ""
    with_nested = analytics.export(include_traces=True, include_token_usage=True, period="30d")
    assert formula_cells(with_nested) == []


def test_csv_without_escaping_round_trips_into_pandas(analytics: Analytics) -> None:
    frame = pd.read_csv(io.StringIO(analytics.export(escape_formulas=False)))
    assert len(frame) == 8
    assert frame["cost_usd"].sum() == pytest.approx(0.016025)
    assert set(frame["query_preview"]) >= {"+SUM(A1:A2)", "@cmd", "-2+3", DROP}


def test_json_with_traces_and_token_usage(analytics: Analytics) -> None:
    items = json.loads(analytics.export("json", include_traces=True, include_token_usage=True))
    assert [uuid.UUID(i["id"]) for i in items] == OLDEST_FIRST
    by_id = {uuid.UUID(i["id"]): i for i in items}
    first = by_id[E[1]]
    assert [s["step_number"] for s in first["trace_steps"]] == [1, 2, 3, 4]
    assert first["trace_steps"][2] == {
        "step_number": 3,
        "step_type": "observation",
        "content": "=42",  # JSON is not for spreadsheets: text as recorded
        "duration_ms": 50,
        "input_tokens": 0,
        "output_tokens": 0,
        "timestamp": "2026-11-25T11:59:53+00:00",
    }
    assert [u["component"] for u in first["token_usage"]] == ["main_agent", "tool_call"]
    assert [u["cost_usd"] for u in first["token_usage"]] == [0.001, 0.0005]
    assert first["cost_usd"] == 0.0015
    assert by_id[E[3]]["query_preview"] == '=HYPERLINK("http://evil.example","click")'
    assert by_id[E[8]]["trace_steps"] == [] and by_id[E[8]]["token_usage"] == []


def test_csv_nests_traces_as_json_text(analytics: Analytics) -> None:
    rows = read_csv(analytics.export(include_traces=True, period="24h"))
    steps = {uuid.UUID(r["id"]): json.loads(r["trace_steps"]) for r in rows}
    assert [s["content"] for s in steps[E[3]]] == ["<b>bold</b> & 'quotes'", "-1+1"]
    assert "token_usage" not in rows[0]


def test_chunks_keep_the_nesting(analytics: Analytics, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = analytics.export("json", include_traces=True, include_token_usage=True)
    monkeypatch.setattr(export_module, "CHUNK_ROWS", 3)
    assert analytics.export("json", include_traces=True, include_token_usage=True) == whole


def test_export_to_a_file(analytics: Analytics, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    result = analytics.export("csv", "30d", path=folder / "executions.csv")
    assert isinstance(result, ExportResult)
    assert (result.rows, result.format, result.path) == (10, "csv", folder / "executions.csv")
    assert len(read_csv(result.path.read_text(encoding="utf-8"))) == 10
    assert list(folder.iterdir()) == [result.path]  # no partial file left behind
    assert "wrote 10 executions" in str(result)


def test_export_scope_empty_and_errors(analytics_u1: Analytics, tmp_path: Path) -> None:
    assert len(read_csv(analytics_u1.export())) == 5
    empty = analytics_u1.export("json", start_date="2026-01-01", end_date="2026-01-02")
    assert json.loads(empty) == []
    with pytest.raises(InvalidInputError, match="format must be one of csv, json"):
        analytics_u1.export("xlsx")
    with pytest.raises(InvalidInputError, match="does not exist"):
        analytics_u1.export(path=tmp_path / "missing" / "out.csv")


def test_an_export_is_not_written_over_a_folder_or_a_database(
    analytics: Analytics, loaded_url: str, tmp_path: Path
) -> None:
    """`--output analytics.db` once replaced the database being read with CSV."""
    with pytest.raises(InvalidInputError, match="it is a folder; give a file name"):
        analytics.export(path=tmp_path)
    database = tmp_path / "other.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE t (x)")
    before = database.read_bytes()
    with pytest.raises(InvalidInputError, match="it is an SQLite database; give another"):
        analytics.export(path=database)
    assert database.read_bytes() == before
    if loaded_url.startswith("sqlite"):  # the very file being read
        own = Path(make_url(loaded_url).database or "")
        with pytest.raises(InvalidInputError, match="it is an SQLite database"):
            analytics.export(path=own)
        assert len(read_csv(analytics.export("csv", "30d"))) == 10  # still readable
    plain = tmp_path / "old.csv"
    plain.write_text("an earlier export\n")
    assert analytics.export(path=plain).rows == 8  # an ordinary file is replaced, as before


def test_an_export_to_a_named_pipe_is_written_into_it_not_over_it(
    analytics: Analytics, tmp_path: Path
) -> None:
    """Looking for an SQLite header opened the target for reading, which a pipe without a
    writer never answers: only regular files are looked into. And a pipe or a device is
    written to: the rename of a finished `.partial` over it had replaced `/dev/null` itself
    with a regular file, for every program on the machine."""
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_text()), daemon=True)
    reader.start()
    done: list[object] = []
    worker = threading.Thread(target=lambda: done.append(analytics.export(path=pipe)))
    worker.start()
    worker.join(timeout=60)
    reader.join(timeout=60)
    assert not worker.is_alive() and done[0].rows == 8  # type: ignore[attr-defined]
    assert stat.S_ISFIFO(pipe.stat().st_mode)  # still the pipe
    assert len(received[0].splitlines()) == 1 + 8  # the header and the 8 executions
    assert not (tmp_path / "pipe.partial").exists()


def test_an_export_through_a_link_writes_where_it_points_and_keeps_the_link(
    analytics: Analytics, tmp_path: Path
) -> None:
    """/dev/stdout is a link to whatever the output goes to (a regular file when redirected):
    the rename of the `.partial` replaced the link itself."""
    real, link = tmp_path / "real.csv", tmp_path / "stdout"
    real.write_text("old\n")
    link.symlink_to(real)
    assert analytics.export(path=link).rows == 8  # type: ignore[union-attr]
    assert link.is_symlink() and link.resolve() == real
    assert len(real.read_text().splitlines()) == 1 + 8
