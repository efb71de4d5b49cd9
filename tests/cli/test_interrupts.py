"""Ctrl-C during a command is "interrupted" and exit 130, wherever it lands: while the commands
are imported, or inside SQLite, which turns the interrupt into an error of its own."""

from __future__ import annotations

import os
import signal
import sqlite3

import pytest

from aa_notebooks.cli import commands, main
from aa_notebooks.cli.commands import tail


def test_an_interrupt_while_the_commands_load_is_no_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def loading(kind: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(commands, "build_parser", loading)
    assert main(["overview"]) == 130
    assert capsys.readouterr().err == "aa-notebooks: interrupted\n"


def test_an_interrupt_that_sqlite_turns_into_its_own_error_is_an_interrupt(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C inside a Python function SQLite calls (the kit's aggregates) comes back as
    sqlite3.OperationalError: it was shown as an error of the database."""

    def interrupted_in_sqlite(args: object, context: object) -> None:
        connection = sqlite3.connect(":memory:")
        connection.create_function("press", 0, lambda: os.kill(os.getpid(), signal.SIGINT))
        connection.execute("SELECT press()")

    monkeypatch.setattr(tail, "run_tail", interrupted_in_sqlite)
    before = signal.getsignal(signal.SIGINT)  # Python's, or a writer's flush on signals
    assert main(["tail"]) == 130
    assert capsys.readouterr().err == "aa-notebooks: interrupted\n"
    assert signal.getsignal(signal.SIGINT) is before  # put back
