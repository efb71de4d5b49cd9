"""DataFrames first: every command that yields rows gives the notebook a pandas DataFrame with
its metadata in `attrs`, shown above the table; single records stay rich objects with a short
text form. In a real IPython shell, on SQLite and PostgreSQL.

Window 2026-11-18..2026-11-25 (whole UTC days) holds E01-E09 and E11 (see
tests/analytics/dataset.py): 10 executions, 2 failures (E03, E07), agents planner (6),
SCRIPT (2: E03, E06), DROP (1: E04), researcher (1: E08); model acme-internal-llm is unpriced.
"""

from __future__ import annotations

import importlib
import json
from decimal import Decimal

import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell

from aa_notebooks.analytics import AgentStats, CostForecast, ExecutionDetail, Overview
from aa_notebooks.budgets import create_budget
from aa_notebooks.magic.display import SHOWN_AS_TEXT
from tests.analytics import dataset

WINDOW = "--start-date 2026-11-18 --end-date 2026-11-25"
HEADING_WINDOW = "2026-11-18 to 2026-11-25 [2026-11-18 00:00 – 2026-11-26 00:00) UTC"
UNPRICED_NOTE = f"Unpriced models (their calls count as $0): {dataset.UNPRICED}"


@pytest.fixture
def shell(ip: InteractiveShell, db_url: str) -> InteractiveShell:
    dataset.load(db_url)
    create_budget(
        db_url, name="team", threshold_usd=Decimal("10"), scope="global", alert_type="warning"
    )
    ip.run_line_magic("config", f"AgentAnalytics.database_url = {db_url!r}")
    return ip


def magic(shell: InteractiveShell, line: str):
    return shell.run_line_magic("agent_analytics", line)


def shown(shell: InteractiveShell, value: object) -> dict[str, str]:
    """What the notebook displays for a cell's value, by MIME type."""
    return shell.display_formatter.format(value)[0]


ROW_COMMANDS = {
    f"executions {WINDOW}": ("Executions", 10),
    f"top-agents {WINDOW}": ("Top agents", 4),
    f"costs --by agent {WINDOW}": ("Cost by agent", 4),
    f"compare-models {WINDOW}": ("Model comparison", 3),
    f"timeseries {WINDOW}": ("Executions per day", 8),
    f"cost-timeseries {WINDOW}": ("Cost per day by model", 24),
}


@pytest.mark.parametrize("line", ROW_COMMANDS)
def test_row_commands_return_dataframes_with_their_metadata(
    shell: InteractiveShell, line: str
) -> None:
    title, rows = ROW_COMMANDS[line]
    frame = magic(shell, f"{line} -o saved")
    assert type(frame) is pd.DataFrame and len(frame) == rows
    assert shell.user_ns["saved"] is frame
    attrs = frame.attrs
    assert (attrs["title"], attrs["scope"], attrs["window"]) == (
        title,
        "all users",
        "2026-11-18 to 2026-11-25",
    )
    assert (attrs["window_start"], attrs["window_end"]) == (
        "2026-11-18T00:00:00+00:00",
        "2026-11-26T00:00:00+00:00",
    )
    assert json.loads(json.dumps(attrs)) == attrs  # plain values: Parquet can store them
    html = shown(shell, frame)["text/html"]
    assert html.index(f"{title} · {HEADING_WINDOW} · all users") < html.index("<table")


def test_executions_page_metadata_is_shown_above_the_rows(shell: InteractiveShell) -> None:
    frame = magic(shell, f"executions {WINDOW} --page 2 --page-size 4")
    assert {k: frame.attrs[k] for k in ("total", "page", "page_size", "pages")} == {
        "total": 10,
        "page": 2,
        "page_size": 4,
        "pages": 3,
    }
    assert (frame.attrs["sort_by"], frame.attrs["sort_order"]) == ("started_at", "desc")
    text = shown(shell, frame)["text/plain"].splitlines()
    assert text[:4] == [
        f"Executions · {HEADING_WINDOW} · all users",
        "  Page                 2 of 3",
        "  Matching executions  10",
        "  Sorted by            started_at desc",
    ]
    assert text[4].split() == list(frame.columns)
    assert len(text) == 5 + 4
    # the numbers stay raw in the frame; only the display formats them
    assert frame["cost_usd"].dtype == "float64"


def test_unpriced_models_note_rides_with_the_costs(shell: InteractiveShell) -> None:
    frame = magic(shell, f"costs --by model {WINDOW}")
    # 3,137 of 4,637 tokens priced: the 7d window's 2,135 of 3,635, with E09 (1,000) and E11 (2)
    coverage = "Cost coverage: 67.7% of tokens are priced by a known price"
    assert frame.attrs["notes"] == [UNPRICED_NOTE, coverage]
    html = shown(shell, frame)["text/html"]
    assert html.index(UNPRICED_NOTE) < html.index("<table")


def test_budgets_list_and_status_are_dataframes(shell: InteractiveShell) -> None:
    budgets = magic(shell, "budgets list")
    assert type(budgets) is pd.DataFrame
    assert budgets["name"].tolist() == ["team"]
    assert (budgets.attrs["title"], budgets.attrs["scope"]) == ("Budgets", "all users")
    status = magic(shell, "budgets status -o status")
    assert type(status) is pd.DataFrame and shell.user_ns["status"] is status
    assert status["name"].tolist() == ["team"]
    assert status.attrs["title"] == "Budget status"
    assert shown(shell, status)["text/plain"].startswith("Budget status · all users\n")


def test_sql_gives_a_dataframe(shell: InteractiveShell) -> None:
    frame = shell.run_cell_magic(
        "agent_analytics", "sql", "SELECT status, COUNT(*) AS n FROM agentexecutions "
        "GROUP BY status ORDER BY n"
    )  # fmt: skip
    assert type(frame) is pd.DataFrame
    assert frame.values.tolist() == [["timeout", 1], ["failure", 2], ["success", 9]]
    assert frame.attrs["title"] == "SQL query"


def test_a_changed_frame_does_not_claim_the_original_paging(shell: InteractiveShell) -> None:
    frame = magic(shell, f"executions {WINDOW}")
    failures = frame[frame["status"] == "failure"]
    assert len(failures) == 2
    text = shown(shell, failures)["text/plain"]
    assert text.startswith(f"Derived from Executions · {HEADING_WINDOW} · all users\n")
    assert "Matching executions" not in text


def test_other_dataframes_keep_pandas_display(shell: InteractiveShell) -> None:
    plain = pd.DataFrame({"a": [1, 2]})
    formats = shown(shell, plain)
    assert formats["text/plain"] == repr(plain)
    assert formats["text/html"] == plain._repr_html_()


@pytest.mark.parametrize(
    ("line", "kind", "first_line"),
    [
        (f"overview {WINDOW}", Overview, f"Overview · {HEADING_WINDOW} · all users"),
        (f"execution {dataset.E[1]}", ExecutionDetail, f"Execution {dataset.E[1]} · all users"),
        (f"agent planner {WINDOW}", AgentStats, f"Agent planner · {HEADING_WINDOW} · all users"),
        ("forecast --period 7d", CostForecast, "Cost forecast for "),
    ],
)
def test_single_records_stay_rich_with_a_short_text_form(
    shell: InteractiveShell, line: str, kind: type, first_line: str
) -> None:
    record = magic(shell, line)
    assert isinstance(record, kind)
    short = repr(record)
    assert short.startswith(f"<{kind.__name__} ") and "\n" not in short and len(short) < 200
    assert "=" not in short  # no dataclass field dump
    text = shown(shell, record)["text/plain"]
    assert text.startswith(first_line)
    assert isinstance(record.to_frame(), pd.DataFrame)


def test_agent_series_frame_carries_the_agent(shell: InteractiveShell) -> None:
    daily = magic(shell, f"agent planner {WINDOW} --daily -o series")
    assert type(daily) is pd.DataFrame and shell.user_ns["series"] is daily
    pd.testing.assert_frame_equal(daily, magic(shell, f"agent planner {WINDOW}").to_frame())
    # planner per day, 18th to 25th: E09 and E02 (18th), E07 (20th), E05 (22nd), E01 and E11
    assert daily["executions"].tolist() == [2, 0, 1, 0, 1, 0, 0, 2]
    assert daily.attrs["title"] == "Agent planner per day"
    assert daily.attrs["window"] == "2026-11-18 to 2026-11-25"
    assert len(daily) == 8


@pytest.mark.parametrize(("module", "name"), SHOWN_AS_TEXT)
def test_each_record_shown_as_text_exists_and_has_its_text(module: str, name: str) -> None:
    """Registered by name: a renamed class would silently show its repr again."""
    kind = getattr(importlib.import_module(module), name)
    assert "__str__" in vars(kind)
