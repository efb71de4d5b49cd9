"""The magic's plumbing in a real IPython shell: config, help, connect, errors as one line."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell
from sqlalchemy import make_url
from traitlets import TraitError

from aa_notebooks.cli.parser import CommandLineError
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.inspection import DatabaseCheck
from aa_notebooks.db.setup import init_db
from aa_notebooks.errors import ConfigurationError
from aa_notebooks.tracking import Run
from aa_notebooks.tracking.store import write_batch

COMMANDS = (
    "overview", "executions", "execution", "agent", "top-agents", "costs", "forecast",
    "compare-models", "timeseries", "export", "connect", "sql",
)  # fmt: skip


def test_help_lists_every_command(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    assert ip.run_line_magic("agent_analytics", "help") is None
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert f"    {command}" in out
    assert "    demo" not in out  # a terminal-only command
    ip.run_line_magic("agent_analytics", "help costs")
    costs_help = capsys.readouterr().out
    assert "--by {model,agent,user,day}" in costs_help
    assert "-o NAME, --save NAME" in costs_help


def test_config_is_validated(ip: InteractiveShell) -> None:
    magic = ip.magics_manager.registry["AgentAnalytics"]
    ip.run_line_magic("config", "AgentAnalytics.page_size = 50")
    ip.run_line_magic("config", "AgentAnalytics.timezone = 'Europe/Paris'")
    assert (magic.page_size, magic.timezone) == (50, "Europe/Paris")
    assert magic._context.page_size == 50
    with pytest.raises(TraitError, match="between 1 and 1000"):
        magic.page_size = 0
    with pytest.raises(TraitError, match="unknown time zone 'Mars/Base'"):
        magic.timezone = "Mars/Base"
    with pytest.raises(TraitError) as refused:  # said at once, not by the next command
        magic.user_id = "not-a-uuid"
    assert str(refused.value) == "user_id must be a UUID (or None for every user), got 'not-a-uuid'"
    magic.user_id = " 11111111-1111-4111-8111-111111111111 ".upper()
    assert magic.user_id == "11111111-1111-4111-8111-111111111111"
    magic.user_id = None


def test_connect_switches_the_database(ip: InteractiveShell, db_url: str) -> None:
    report = ip.run_line_magic("agent_analytics", f"connect {db_url}")
    assert isinstance(report, DatabaseCheck) and report.ok
    magic = ip.magics_manager.registry["AgentAnalytics"]
    assert magic.database_url == db_url
    assert magic._context.database_url == db_url


def test_connect_without_a_url_keeps_the_configured_database(
    ip: InteractiveShell, db_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`connect` checked the %config'd database, then pointed every later command at
    $AA_DATABASE_URL (or the default file): the dashboard showed another database's numbers."""
    other = f"sqlite:///{tmp_path / 'other.db'}"
    init_db(other)
    write_batch(get_engine(db_url), [Run(agent_name="configured").finish()])
    monkeypatch.setenv("AA_DATABASE_URL", other)
    ip.run_line_magic("config", f"AgentAnalytics.database_url = {db_url!r}")
    report = ip.run_line_magic("agent_analytics", "connect")
    assert isinstance(report, DatabaseCheck) and report.ok
    assert ip.magics_manager.registry["AgentAnalytics"].database_url == db_url
    assert ip.run_line_magic("agent_analytics", "overview --period 24h").total_executions == 1


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_config_shows_the_database_url_without_its_password(
    ip: InteractiveShell, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`%config AgentAnalytics` prints every setting: the password stays hidden, set by %config
    or by connect, while the magic keeps connecting with it."""
    password = make_url(db_url).password
    assert password
    ip.run_line_magic("config", f"AgentAnalytics.database_url = {db_url!r}")
    ip.run_line_magic("config", "AgentAnalytics")
    separator = "&" if "?" in db_url else "?"
    ip.run_line_magic("agent_analytics", f"connect {db_url}{separator}sslpassword=other-secret")
    ip.run_line_magic("config", "AgentAnalytics")
    out = capsys.readouterr().out
    assert out.count("Current: 'postgresql://") == 2
    assert f":{password}@" not in out and "other-secret" not in out
    assert out.count(":***@") == 2 and "sslpassword=***" in out
    assert ip.run_line_magic("agent_analytics", "overview --period 7d").total_executions == 0


def test_connect_to_a_missing_file_says_what_to_do(ip: InteractiveShell, tmp_path) -> None:
    with pytest.raises(ConfigurationError, match="aa-notebooks seed"):
        ip.run_line_magic("agent_analytics", f"connect sqlite:///{tmp_path}/none.db")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("overveiw", "unknown command 'overveiw'; did you mean 'overview'?"),
        ("executions --status fail", "--status: 'fail' is not one of success, failure, timeout"),
        ("executions --page 0", "must be at least 1, got 0"),
        ("costs --by colour", "--by: 'colour' is not one of model, agent, user, day"),
        ("overview 'unclosed", "cannot split the command line"),
    ],
)
def test_usage_errors(ip: InteractiveShell, line: str, expected: str) -> None:
    with pytest.raises(CommandLineError) as info:
        ip.run_line_magic("agent_analytics", line)
    assert expected in str(info.value)


def test_errors_show_as_one_line_in_a_cell(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    result = ip.run_cell("%agent_analytics overveiw")
    assert isinstance(result.error_in_exec, CommandLineError)
    out, err = capsys.readouterr()
    shown = (out + err).strip()
    assert shown.startswith("UsageError: unknown command 'overveiw'")
    assert "Traceback" not in shown and len(shown.splitlines()) == 1


def test_cell_body_only_for_sql(ip: InteractiveShell) -> None:
    with pytest.raises(CommandLineError, match="only `%%agent_analytics sql` takes a cell"):
        ip.run_cell_magic("agent_analytics", "overview", "SELECT 1")


@pytest.mark.parametrize("name", ["not valid", "1abc", "class", "a-b"])
def test_a_result_is_saved_only_under_a_name_python_can_use(
    ip: InteractiveShell, name: str
) -> None:
    """`-o 'not valid'` stored the result where no variable could reach it, silently."""
    with pytest.raises(CommandLineError, match=f"{name!r} is not a Python variable name"):
        ip.run_line_magic("agent_analytics", f"help -o '{name}'")
    assert name not in ip.user_ns
