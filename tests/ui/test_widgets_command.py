"""`dashboard` and `trace ID` subcommands: parsed like the others, returning the widget."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from aa_notebooks.cli import commands, main
from aa_notebooks.cli.commands import widgets as widget_commands
from aa_notebooks.cli.context import CommandContext
from aa_notebooks.cli.parser import CommandParser
from aa_notebooks.errors import InvalidInputError
from aa_notebooks.ui import Dashboard, ExecutionsView, NoDatabase, TraceExplorer
from tests.ui.dataset import NOW, eid


def parser() -> CommandParser:
    """A parser holding only this module's subcommands, as the registry would add them."""
    top = CommandParser(prog="%agent_analytics")
    subcommands = top.add_subparsers(dest="command", required=True, parser_class=CommandParser)
    names = [sub.prog.split()[-1] for sub in widget_commands.register(subcommands)]
    assert names == ["dashboard", "trace"]
    return top


def run(line: str, context: CommandContext) -> object:
    args = parser().parse_args(line.split())
    return args.handler(args, context)


def test_dashboard_subcommand(url: str):
    context = CommandContext(database_url=url, now=lambda: NOW, front_end="magic", page_size=3)
    board = run("dashboard --period 30d", context)
    assert isinstance(board, Dashboard)
    assert board.period == "30d" and board.kpis["Total Executions"] == "8"
    assert board.recent.total == 8  # the grid reaches all of them
    dated = run("dashboard --start-date 2026-11-20 --end-date 2026-11-24", context)
    assert isinstance(dated, Dashboard) and dated.kpis["Total Executions"] == "4"


def test_trace_subcommand(url: str):
    context = CommandContext(database_url=url, now=lambda: NOW)
    trace = run(f"trace {eid(1)}", context)
    assert isinstance(trace, TraceExplorer) and len(trace.steps) == 4


def test_without_a_database(tmp_path: Path):
    context = CommandContext(database_url=f"sqlite:///{tmp_path / 'missing.db'}")
    shown = run("dashboard", context)
    assert isinstance(shown, NoDatabase) and "no database yet" in shown.message
    assert isinstance(run(f"trace {eid(1)}", context), NoDatabase)


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    """A real IPython shell with the extension (and so the widget subcommands) loaded."""
    assert widget_commands in commands.COMMAND_MODULES["magic"]
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "aa_notebooks")
    yield ip
    ip.run_line_magic("config", "AgentAnalytics.database_url = None")
    ip.user_ns.clear()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_through_the_magic(shell: InteractiveShell, url: str):
    shell.run_line_magic("config", f"AgentAnalytics.database_url = {url!r}")
    board = shell.run_line_magic("agent_analytics", "dashboard --period 90d -o board")
    assert isinstance(board, Dashboard) and shell.user_ns["board"] is board
    assert board.period == "90d"
    trace = shell.run_line_magic("agent_analytics", f"trace {eid(3)}")
    assert isinstance(trace, TraceExplorer) and trace.header["Status"] == "failure"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_executions_grid_through_the_magic(shell: InteractiveShell, url: str):
    shell.run_line_magic("config", f"AgentAnalytics.database_url = {url!r}")
    line = "executions --period 30d --grid --status failure --max-cost 0.05 --sort-by cost_usd"
    view = shell.run_line_magic("agent_analytics", line)
    assert isinstance(view, ExecutionsView)
    assert view.grid.filters == {"status": "failure", "max_cost": "0.05"}
    assert view.grid.total == 1 and view.grid.rows(0, 5)[0]["id"] == str(eid(7))  # $0.005
    assert view.grid.sort_by == "cost_usd"
    view.grid.answer({"kind": "open", "id": str(eid(7))})
    assert view.trace is not None and view.trace.header["Status"] == "failure"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_executions_grid_agent_options(shell: InteractiveShell, url: str):
    shell.run_line_magic("config", f"AgentAnalytics.database_url = {url!r}")
    line = "executions --period 30d --grid --agent-name planner"
    view = shell.run_line_magic("agent_analytics", line)
    assert view.grid.filters == {"agent": "planner"} and view.grid.total == 4  # E1 E2 E6 E7
    with pytest.raises(InvalidInputError, match=r"give --agent-id or --agent-name$"):
        shell.run_line_magic("agent_analytics", f"{line} --agent-id {eid(1)}")


def test_executions_grid_needs_a_notebook(url: str, capsys: pytest.CaptureFixture[str]):
    code = main(["--db", url, "executions", "--grid"])
    err = capsys.readouterr().err
    assert code != 0 and "--grid shows a widget: use it in a notebook" in err
    assert "Traceback" not in err
