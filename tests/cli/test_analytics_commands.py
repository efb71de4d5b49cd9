"""Analytics subcommands through the CLI entry point, in the three output formats.

Window 2026-11-18..2026-11-25 holds 10 executions of the hand-made dataset (see
tests/magic/test_magic_commands.py for the count), costing 0.001500 + 0.003000 + 0.000900 +
0.004000 + 0 + 0.000225 + 0.000100 + 0.006300 + 1.000000 (E09) + 2.000000 (E11) = 3.016025.
"""

from __future__ import annotations

import csv
import io
import json
import shlex
from decimal import Decimal

import pytest

from aa_notebooks.analytics import connect
from aa_notebooks.budgets import create_budget
from aa_notebooks.cli import main
from tests.analytics import dataset
from tests.csv_cells import cells, formula_cells

WINDOW = ["--start-date", "2026-11-18", "--end-date", "2026-11-25"]


@pytest.fixture
def url(db_url: str) -> str:
    dataset.load(db_url)
    return db_url


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_overview_json(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--db", url, "overview", *WINDOW, "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["total_executions"] == 10
    assert data["total_cost_usd"] == "3.016025"


def test_overview_table_is_readable(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "overview", "--db", url, *WINDOW)
    assert code == 0
    assert "$3.02" in out


def test_costs_csv_matches_the_library(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--db", url, "costs", "--by", "agent", *WINDOW, "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    expected = connect(url).cost_summary(by="agent", start_date="2026-11-18",
                                         end_date="2026-11-25").frame  # fmt: skip
    assert len(rows) == len(expected)
    assert [r[expected.columns[0]] for r in rows] == [str(v) for v in expected.iloc[:, 0]]


def test_user_scope_option(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "--db", url, "--user", str(dataset.U2), "overview", *WINDOW, "--format", "json"
    )
    assert code == 0 and json.loads(out)["total_executions"] == 3


def test_execution_not_found_is_one_line(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--db", url, "execution", "00000000-0000-4000-8000-999999999999")
    assert code == 2 and out == ""
    assert err.startswith("aa-notebooks: error: ") and err.count("\n") == 1


def test_bad_period_lists_the_accepted_forms(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--db", url, "overview", "--period", "fortnight")
    assert code == 2
    assert "24h" in err and "7d" in err and err.count("\n") == 1


def test_sql_with_params(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "--db", url, "sql", "SELECT COUNT(*) AS n FROM agentexecutions WHERE status = {s}",
        "--param", "s=timeout", "--format", "json",
    )  # fmt: skip
    assert code == 0 and json.loads(out) == [{"n": 1}]


def test_sql_with_a_colon_parameter_says_how_to_give_it(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys, "--db", url, "sql", "SELECT COUNT(*) FROM agentexecutions WHERE status = :s",
        "--param", "s=timeout",
    )  # fmt: skip
    assert code == 2
    assert err == (
        "aa-notebooks: error: the query names the parameter :s, which has no value here; write "
        "it as {s} and define s in the notebook, or pass --param s=VALUE on the command line "
        "(from Python: params={'s': ...})\n"
    )


def test_cost_timeseries_by_model(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    # 2026-11-24: E06 (claude). 2026-11-25: E03 (claude), E01 and E11 (gpt-4o); gpt-4o has no
    # execution on the 24th, so its row there is zero.
    window = ["--start-date", "2026-11-24", "--end-date", "2026-11-25"]
    code, out, _ = run(capsys, "--db", url, "cost-timeseries", *window, "--format", "csv")
    assert code == 0
    rows = [
        (r["bucket"][:10], r["model"], r["executions"], float(r["cost_usd"]))
        for r in csv.DictReader(io.StringIO(out))
    ]
    assert rows == [
        ("2026-11-24", "claude-3-5-sonnet", "1", 0.000225),
        ("2026-11-24", "gpt-4o", "0", 0.0),
        ("2026-11-25", "claude-3-5-sonnet", "1", 0.0009),
        ("2026-11-25", "gpt-4o", "2", 2.0015),
    ]


HYPERLINK = '=HYPERLINK("http://evil.example","click")'
CSV_COMMANDS = {
    # command line: a neutralised cell it must print (from the dataset's hostile text)
    "overview": None,
    "executions --page-size 50": "'" + HYPERLINK,  # E03's query preview
    f"execution {dataset.E[1]}": "'=42",  # E01's third trace step
    "agent planner": None,
    "top-agents": dataset.SCRIPT,
    "costs --by agent": dataset.DROP,
    "forecast": None,
    "compare-models": None,
    "timeseries": None,
    "cost-timeseries --by agent": None,
    "budgets list": "'@SUM(A1:A2)",
    "budgets status": "'@SUM(A1:A2)",
    """sql 'SELECT query_preview AS "=x", -5 AS n FROM agentexecutions'""": "'=x",
    "export --format csv": "'+SUM(A1:A2)",
}


@pytest.mark.parametrize("line", CSV_COMMANDS)
def test_every_csv_output_is_neutralised(
    url: str, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    create_budget(url, name="@SUM(A1:A2)", threshold_usd=Decimal(5), scope="global",
                  alert_type="warning")  # fmt: skip
    window = [] if line.startswith(("execution ", "sql", "budgets", "forecast")) else WINDOW
    argv = [*shlex.split(line), *window]
    if not line.startswith("export"):
        argv += ["--format", "csv"]
    code, out, err = run(capsys, "--db", url, *argv)
    assert code == 0, err
    assert formula_cells(out) == []
    expected = CSV_COMMANDS[line]
    if expected is not None:
        assert expected in cells(out)


def test_csv_keeps_negative_numbers_and_neutralises_text(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, "--db", url, "sql", "SELECT -5 AS n, '-5' AS t, query_preview FROM agentexecutions "
        "WHERE query_preview LIKE '-%'", "--format", "csv",
    )  # fmt: skip
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows == [["n", "t", "query_preview"], ["-5", "'-5", "'-2+3"]]


def test_execution_table_shows_steps_and_token_usage(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--db", url, "execution", str(dataset.E[1]))
    assert code == 0
    steps = out[out.index("Trace steps (4)") : out.index("Token usage (2)")]
    for content in ("I should call the calculator", "calculator(6*7)", "=42", "The answer is 42"):
        assert content in steps
    usage = out[out.index("Token usage (2)") :].splitlines()
    assert [line.split()[:2] for line in usage[2:]] == [
        ["main_agent", "gpt-4o"],
        ["tool_call", "gpt-4o"],
    ]


def test_export_opt_out_keeps_text_for_round_trips(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--db", url, "export", "--no-escape-formulas", *WINDOW)
    assert code == 0
    previews = {row["query_preview"] for row in csv.DictReader(io.StringIO(out))}
    assert {HYPERLINK, "+SUM(A1:A2)", "@cmd", "-2+3"} <= previews


@pytest.mark.parametrize("agent", ["planner", str(dataset.PLANNER_ID)])
def test_executions_take_an_agent_by_id_or_name(
    url: str, capsys: pytest.CaptureFixture[str], agent: str
) -> None:
    """As `agent` and `anomalies` take it: the planner's six runs of the window (E01, E02, E05,
    E07, E09 and E11; see the module docstring)."""
    code, out, _ = run(
        capsys, "--db", url, "executions", *WINDOW, "--agent", agent, "--format", "json"
    )
    assert code == 0
    ids = {row["id"] for row in json.loads(out)["rows"]}
    assert ids == {str(dataset.eid(n)) for n in (1, 2, 5, 7, 9, 11)}


def test_executions_refuse_agent_given_twice(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys, "--db", url, "executions", "--agent", "planner", "--agent-name", "researcher"
    )
    assert code == 2 and "give --agent, or --agent-id and --agent-name, not both" in err
