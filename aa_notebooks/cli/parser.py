"""An argparse parser that raises instead of exiting, shared by the CLI and the IPython magic.

argparse's own `error()` prints and calls `sys.exit`, which would kill a notebook kernel and, on
Python 3.11, happens even with `exit_on_error=False`; here both become exceptions.
"""

from __future__ import annotations

import argparse
import difflib
import re
from typing import NoReturn

from aa_notebooks.errors import InvalidInputError

COMMAND_METAVAR = "COMMAND"


class CommandLineError(InvalidInputError):
    """A command line that does not parse; the message says what to type instead."""

    def _render_traceback_(self) -> list[str]:
        return [f"UsageError: {self}"]


class HelpShown(Exception):
    """Raised after `--help` (or `--version`) has printed its text; not an error."""


class CommandParser(argparse.ArgumentParser):
    """ArgumentParser whose errors are CommandLineError, with a did-you-mean for subcommands."""

    def error(self, message: str) -> NoReturn:
        match = re.search(
            r"argument (\S+): invalid choice: '([^']*)' \(choose from (.*)\)", message
        )
        if match:
            argument, typed = match.group(1), match.group(2)
            choices = re.findall(r"'([^']*)'", match.group(3)) or match.group(3).split(", ")
            close = difflib.get_close_matches(typed, choices, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            if argument == COMMAND_METAVAR:
                message = f"unknown command {typed!r}; {hint}valid commands: {', '.join(choices)}"
            else:
                message = f"{argument}: {typed!r} is not one of {', '.join(choices)}; {hint}"
                message = message.rstrip("; ")
        raise CommandLineError(f"{message} (see `{self.prog} --help`)")

    def subcommands(self) -> dict[str, argparse.ArgumentParser]:
        """The subcommand parsers by name."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                return dict(action.choices)
        return {}

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if status:
            self.error(message or "invalid arguments")
        raise HelpShown(message or "")
