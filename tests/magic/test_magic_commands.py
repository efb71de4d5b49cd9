"""Every analytics subcommand in a real IPython shell returns the analytics layer's result (rows
as its DataFrame), on SQLite and PostgreSQL, with `--save`, `%config` scoping, the sql cell and
injection attempts.

Window: --start-date 2026-11-18 --end-date 2026-11-25 (whole UTC days). From the dataset's
table (tests/analytics/dataset.py) that holds E01-E09 and E11 = 10 executions (E09 at 11:59 on
the 18th and E11 at 12:01 on the 25th are inside whole days; E10 and E12 are weeks earlier).
User U1 owns E01, E02, E05, E06, E08, E09, E11 = 7 of them. Failures: E03 and E07.
"""

from __future__ import annotations

import io

import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell
from sqlalchemy import func, select

from aa_notebooks.analytics import Overview, connect
from aa_notebooks.cli.parser import CommandLineError
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import AgentExecution
from aa_notebooks.errors import InvalidInputError, NotFoundError
from aa_notebooks.magic.magics import _without_comment
from tests.analytics import dataset

WINDOW = "--start-date 2026-11-18 --end-date 2026-11-25"
DATES = {"start_date": "2026-11-18", "end_date": "2026-11-25"}


@pytest.fixture
def shell(ip: InteractiveShell, db_url: str) -> InteractiveShell:
    dataset.load(db_url)
    ip.run_line_magic("config", f"AgentAnalytics.database_url = {db_url!r}")
    return ip


def magic(shell: InteractiveShell, line: str):
    return shell.run_line_magic("agent_analytics", line)


def execution_count(url: str) -> int:
    with get_engine(url).connect() as conn:
        return conn.execute(select(func.count()).select_from(AgentExecution)).scalar_one()


def test_overview_equals_the_library(shell: InteractiveShell, db_url: str) -> None:
    shown = magic(shell, f"overview {WINDOW}")
    assert isinstance(shown, Overview)
    assert shown.total_executions == 10
    assert shown == connect(db_url).overview(**DATES)


def test_a_comment_ends_the_line_as_in_the_readme(shell: InteractiveShell, db_url: str) -> None:
    """The README's lines end in `# ...`: the comment was read as arguments (its dates even
    as options), so a new user's first cell failed."""
    shown = magic(shell, f"overview {WINDOW}  # or --start-date 2020-01-01 --end-date 2020-01-02")
    assert shown == connect(db_url).overview(**DATES)
    assert magic(shell, "executions --search '#1' --period 7d # a quoted # stays").empty


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        ("agent bot#2", "agent bot#2"),  # `shlex`'s comments made it agent "bot"
        ("connect postgresql://u:p#ss@host/db", "connect postgresql://u:p#ss@host/db"),
        ("executions --search '#1' # why", "executions --search '#1' "),
        ('executions --search "a # b"  # why', 'executions --search "a # b"  '),
        ("executions --search \\# # why", "executions --search \\# "),
        ("# nothing", ""),
    ],
)
def test_only_a_hash_that_starts_a_word_begins_a_comment(line: str, kept: str) -> None:
    assert _without_comment(line) == kept


def test_executions_filters_and_pages(shell: InteractiveShell) -> None:
    failures = magic(shell, f"executions --status failure {WINDOW}")
    assert isinstance(failures, pd.DataFrame)
    assert failures.attrs["total"] == 2
    assert set(failures["id"]) == {str(dataset.E[3]), str(dataset.E[7])}
    page = magic(shell, f"executions {WINDOW} --page 2 --page-size 4 --sort-by cost_usd")
    meta = page.attrs
    assert (meta["total"], meta["page"], meta["pages"], len(page)) == (10, 2, 3, 4)
    # desc by cost: E11 2.0, E09 1.0, E08 .0063, E04 .004 | E02 .003, E01 .0015, E03 .0009, ...
    assert page["id"].tolist() == [str(dataset.E[n]) for n in (2, 1, 3, 6)]


def test_page_size_comes_from_config(shell: InteractiveShell) -> None:
    shell.run_line_magic("config", "AgentAnalytics.page_size = 3")
    assert magic(shell, f"executions {WINDOW}").attrs["page_size"] == 3


def test_user_scope_from_config(shell: InteractiveShell) -> None:
    shell.run_line_magic("config", f"AgentAnalytics.user_id = '{dataset.U1}'")
    assert magic(shell, f"overview {WINDOW}").total_executions == 7
    # --user on one command overrides the configured scope for that command only
    assert magic(shell, f"overview {WINDOW} --user {dataset.U2}").total_executions == 3
    assert magic(shell, f"overview {WINDOW}").total_executions == 7


def test_save_stores_the_result(shell: InteractiveShell, db_url: str) -> None:
    returned = magic(shell, f"costs --by model {WINDOW} -o by_model")
    assert isinstance(returned, pd.DataFrame)
    assert shell.user_ns["by_model"] is returned
    expected = connect(db_url).cost_summary(by="model", **DATES).to_frame()
    pd.testing.assert_frame_equal(returned, expected)
    assert returned.attrs == expected.attrs


def test_every_subcommand_matches_its_function(shell: InteractiveShell, db_url: str) -> None:
    library = connect(db_url)
    pairs = {
        f"top-agents {WINDOW} --limit 2": library.top_agents(limit=2, **DATES),
        f"compare-models {WINDOW}": library.compare_models(**DATES),
        f"timeseries {WINDOW} --bucket day": library.timeseries(bucket="day", **DATES),
        f"costs --by agent {WINDOW}": library.cost_summary(by="agent", **DATES),
    }
    for line, expected in pairs.items():
        shown = magic(shell, line)
        pd.testing.assert_frame_equal(shown, expected.to_frame())
        assert shown.attrs == expected.to_frame().attrs
    agent = magic(shell, f"agent planner {WINDOW}")
    expected_agent = library.agent_stats("planner", **DATES)
    # planner in the window: E01, E02, E05, E07, E09, E11
    assert agent.total_executions == expected_agent.total_executions == 6
    assert agent.total_cost_usd == expected_agent.total_cost_usd
    pd.testing.assert_frame_equal(agent.daily, expected_agent.daily)
    forecast = magic(shell, "forecast --period 7d")
    assert forecast.month_start == library.cost_forecast("7d").month_start


def test_execution_detail_and_its_errors(shell: InteractiveShell) -> None:
    detail = magic(shell, f"execution {dataset.E[1]}")
    assert detail.id == dataset.E[1]
    with pytest.raises(NotFoundError):
        magic(shell, "execution 00000000-0000-4000-8000-999999999999")
    with pytest.raises(InvalidInputError):
        magic(shell, "execution not-a-uuid")


def test_export_writes_a_file(shell: InteractiveShell, tmp_path) -> None:
    target = tmp_path / "out.csv"
    result = magic(shell, f"export --format csv --output {target} {WINDOW}")
    assert target.exists()
    assert len(pd.read_csv(target)) == 10 == result.rows


def test_export_without_a_file_is_kept_under_the_name_given(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    assert magic(shell, f"export --format csv -o exported {WINDOW}") is None
    assert capsys.readouterr().out == ""  # kept, not printed
    frame = pd.read_csv(io.StringIO(shell.user_ns["exported"]))
    assert len(frame) == 10
    in_window = [*range(1, 10), 11]  # E10 and E12 started before 2026-11-18
    assert sorted(frame["id"]) == sorted(str(dataset.E[n]) for n in in_window)


def test_sql_cell_binds_placeholders(shell: InteractiveShell) -> None:
    shell.user_ns["wanted"] = "failure"
    frame = shell.run_cell_magic(
        "agent_analytics",
        "sql",
        "SELECT COUNT(*) AS n FROM agentexecutions WHERE status = {wanted}",
    )
    assert frame["n"].tolist() == [2]  # E03 and E07 are the only failures in the dataset


def test_injection_attempts_change_nothing(shell: InteractiveShell, db_url: str) -> None:
    before = execution_count(db_url)
    page = magic(shell, f"""executions {WINDOW} --agent-name "{dataset.DROP}" """)
    assert page["id"].tolist() == [str(dataset.E[4])]
    page = magic(shell, f"""executions {WINDOW} --model "gpt-4o' OR '1'='1" """)
    assert page.attrs["total"] == 0 and page.empty
    for line in (
        f'executions {WINDOW} --status "success\'; DROP TABLE agentexecutions; --"',
        f'executions {WINDOW} --sort-by "started_at; DROP TABLE agentexecutions"',
        f'executions {WINDOW} --sort-order "desc; DELETE FROM agentexecutions"',
    ):
        with pytest.raises(CommandLineError):
            magic(shell, line)
    with pytest.raises(InvalidInputError):
        magic(shell, 'overview --period "7d; DROP TABLE agentexecutions"')
    with pytest.raises(InvalidInputError):
        magic(shell, 'agent "x\' OR 1=1 --" --start-date "2026-11-18\'; DROP TABLE users; --"')
    shell.user_ns["evil"] = "1; DROP TABLE agentexecutions; --"
    frame = shell.run_cell_magic(
        "agent_analytics",
        "sql",
        "SELECT COUNT(*) AS n FROM agentexecutions WHERE query_preview = {evil}",
    )
    assert frame["n"].tolist() == [0]
    frame = shell.run_cell_magic(
        "agent_analytics",
        "sql",
        "SELECT '{}' AS braces, '{1}' AS digits FROM agentexecutions LIMIT 1",
    )
    assert frame.iloc[0].tolist() == ["{}", "{1}"]
    with pytest.raises(Exception):  # noqa: B017 - the database refuses; any error is fine
        shell.run_cell_magic("agent_analytics", "sql", "DELETE FROM agentexecutions")
    assert execution_count(db_url) == before == 12
