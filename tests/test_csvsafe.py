"""The one CSV rule: text a spreadsheet would run gets a leading quote; numbers stay numbers."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd
import pytest

from aa_notebooks.analytics.writers import CsvWriter
from aa_notebooks.csvsafe import escape_formula, frame_to_csv, neutralise
from tests.csv_cells import formula_cells


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_every_formula_start_is_escaped(text: str) -> None:
    assert escape_formula(text) == "'" + text
    assert escape_formula("plain " + text) == "plain " + text


def test_only_text_is_changed() -> None:
    assert neutralise(-5) == -5
    assert neutralise(-0.25) == -0.25
    assert neutralise(Decimal("-1.5")) == Decimal("-1.5")
    assert neutralise(None) is None
    assert neutralise("-5") == "'-5"  # text that looks like a number is still text


def test_frame_to_csv_neutralises_text_cells_and_column_names() -> None:
    frame = pd.DataFrame(
        {
            '=HYPERLINK("http://x")': ["a", "b"],
            "note": ['=HYPERLINK("http://evil","x")', "+cmd|' /C calc'!A0"],
            "who": pd.Categorical(["@SUM(A1:A2)", None]),
            "delta": [-5, 3],
            "cost": [-0.25, 1.5],
        }
    )
    text = frame_to_csv(frame)
    assert text.splitlines() == [
        '"\'=HYPERLINK(""http://x"")",note,who,delta,cost',
        'a,"\'=HYPERLINK(""http://evil"",""x"")",\'@SUM(A1:A2),-5,-0.25',
        "b,'+cmd|' /C calc'!A0,,3,1.5",
    ]
    assert formula_cells(text) == []
    assert frame.loc[0, "note"].startswith("=")  # the caller's frame is not changed


def test_opt_out_round_trips_into_pandas() -> None:
    frame = pd.DataFrame({"note": ["=1+1", "-2"], "n": [-1, 2]})
    back = pd.read_csv(io.StringIO(frame_to_csv(frame, escape_formulas=False)), dtype={"note": str})
    assert back["note"].tolist() == ["=1+1", "-2"] and back["n"].tolist() == [-1, 2]


def test_a_carriage_return_in_a_cell_keeps_the_row_whole() -> None:
    """A lone `\r` is quoted (lines then end in `\r\n`), so every reader sees one row."""
    frame = pd.DataFrame({"agent": ["line one\rline two", "plain"], "cost": [1.5, 2.0]})
    text = frame_to_csv(frame)
    assert text == 'agent,cost\r\n"line one\rline two",1.5\r\nplain,2.0\r\n'
    assert list(csv.reader(io.StringIO(text, newline=""))) == [
        ["agent", "cost"], ["line one\rline two", "1.5"], ["plain", "2.0"],
    ]  # fmt: skip
    assert pd.read_csv(io.StringIO(text))["agent"].tolist() == ["line one\rline two", "plain"]
    assert frame_to_csv(frame.tail(1)) == "agent,cost\nplain,2.0\n"  # no `\r`: `\n` as before


def test_the_export_writer_quotes_a_carriage_return_and_ends_lines_in_newlines() -> None:
    stream = io.StringIO()
    writer = CsvWriter(stream, ["agent_name", "cost_usd"], escape_formulas=True)
    writer.write([{"agent_name": "a\rb", "cost_usd": 1.5}, {"agent_name": "c", "cost_usd": 2}])
    assert stream.getvalue() == 'agent_name,cost_usd\n"a\rb",1.5\nc,2\n'
    rows = list(csv.reader(io.StringIO(stream.getvalue(), newline="")))
    assert rows == [["agent_name", "cost_usd"], ["a\rb", "1.5"], ["c", "2"]]


def test_small_and_large_numbers_are_written_in_plain_digits() -> None:
    """A cost of a millionth of a dollar is `0.000001`, not `1e-06`, in both writers; a float
    keeps the digits that read back as itself, a Decimal its own."""
    frame = pd.DataFrame({"cost": [1e-06, 1.5e-07, 12.0, 0.1 + 0.2, 1e20], "n": [1, 2, 3, 4, 5]})
    assert frame_to_csv(frame).splitlines() == [
        "cost,n",
        "0.000001,1",
        "0.00000015,2",
        "12.0,3",
        "0.30000000000000004,4",
        "100000000000000000000.0,5",
    ]
    back = pd.read_csv(io.StringIO(frame_to_csv(frame)))
    assert back["cost"].tolist() == frame["cost"].tolist()
    stream = io.StringIO()
    writer = CsvWriter(stream, ["cost_usd", "n"], escape_formulas=True)
    writer.write([{"cost_usd": Decimal("0.000001"), "n": 1}, {"cost_usd": 1e-05, "n": 2},
                  {"cost_usd": None, "n": 3}])  # fmt: skip
    assert stream.getvalue() == "cost_usd,n\n0.000001,1\n0.00001,2\n,3\n"


def test_times_are_written_as_the_export_writes_them() -> None:
    """ISO 8601 with a T and microseconds where there are any, in both writers; a missing
    time is an empty cell."""
    moments = [datetime(2026, 12, 7, 0, 34, 2, tzinfo=UTC),
               datetime(2026, 12, 7, 0, 34, 2, 211000, tzinfo=UTC), None]  # fmt: skip
    frame = pd.DataFrame({"started_at": pd.to_datetime(moments, utc=True), "n": [1, 2, 3]})
    expected = [
        "started_at,n",
        "2026-12-07T00:34:02+00:00,1",
        "2026-12-07T00:34:02.211000+00:00,2",
        ",3",
    ]
    assert frame_to_csv(frame).splitlines() == expected
    stream = io.StringIO()
    writer = CsvWriter(stream, ["started_at", "n"], escape_formulas=True)
    writer.write([{"started_at": moment, "n": n} for n, moment in enumerate(moments, start=1)])
    assert stream.getvalue().splitlines() == expected
