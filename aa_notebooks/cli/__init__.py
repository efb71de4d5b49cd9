"""The `aa-notebooks` command: thin front end over the library's functions.

Its commands are imported inside `main`, after Ctrl-C is watched: an interrupt during the
second the imports take is "interrupted" too, not a traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

from aa_notebooks.errors import AnalyticsError, ReportError, first_line

DEBUG_HINT = "(set AA_DEBUG=1 to see the traceback)"

__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; errors are one line on stderr, never a traceback."""
    with _watching_interrupts() as interrupted:
        try:
            from aa_notebooks.cli.commands import build_parser

            parser = build_parser("cli")
        except KeyboardInterrupt:
            return _interrupted()
        with warnings.catch_warnings():  # restores Python's own way of showing them afterwards
            warnings.showwarning = _one_line_warning
            return _run(parser, argv, interrupted)


def __getattr__(name: str) -> Any:
    if name == "build_parser":
        from aa_notebooks.cli.commands import build_parser

        return build_parser
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@contextmanager
def _watching_interrupts() -> Iterator[threading.Event]:
    """An event set once Ctrl-C was pressed (the handler in place still runs: Python's raises
    KeyboardInterrupt): an interrupt that SQLite turns into an error inside its own callbacks
    ("Cannot operate on a closed database") is then reported as the interrupt it was."""
    pressed = threading.Event()
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous) or threading.current_thread() is not threading.main_thread():
        yield pressed  # ignored, or left to the default action, or no handler allowed here
        return

    def on_interrupt(signum: int, frame: Any) -> Any:
        pressed.set()
        return previous(signum, frame)

    signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield pressed
    finally:  # unless a writer's shutdown handler wrapped this one meanwhile: it must stay
        if signal.getsignal(signal.SIGINT) is on_interrupt:
            signal.signal(signal.SIGINT, previous)


def _interrupted() -> int:
    print("aa-notebooks: interrupted", file=sys.stderr)
    return 130


def _one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """A warning as one line on stderr, as errors are: not Python's file, line and source."""
    from aa_notebooks.cli.output import terminal_safe

    print(f"aa-notebooks: warning: {terminal_safe(str(message))}", file=sys.stderr)


def _run(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None, interrupted: threading.Event
) -> int:
    from aa_notebooks.cli.context import CommandContext
    from aa_notebooks.cli.output import render
    from aa_notebooks.cli.parser import HelpShown

    try:
        args = parser.parse_args(argv)
        context = CommandContext(database_url=args.database_url, user_id=args.user_id)
        result = args.handler(args, context)
        text = render(result, getattr(args, "output_format", "table"))
        if text:
            print(text)
        return 0 if getattr(result, "ok", True) else 1
    except HelpShown:
        return 0
    except AnalyticsError as exc:
        if interrupted.is_set():
            return _interrupted()
        print(f"aa-notebooks: error: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, ReportError) else 2  # 2: what was typed needs fixing
    except BrokenPipeError:  # e.g. `aa-notebooks help | head`: the reader left, not an error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - stop Python's flush at exit failing
        return 0
    except KeyboardInterrupt:
        return _interrupted()
    except Exception as exc:
        if interrupted.is_set():
            return _interrupted()
        if os.environ.get("AA_DEBUG"):
            raise
        print(f"aa-notebooks: {_unexpected(exc)} {DEBUG_HINT}", file=sys.stderr)
        return 1


def _unexpected(exc: Exception) -> str:
    """One line for an error the kit did not explain. A database error becomes the kit's
    explanation, never SQLAlchemy's text, which carries the statement and its parameters."""
    from sqlalchemy.exc import StatementError

    if isinstance(exc, StatementError):
        from aa_notebooks.db.engine import explain_database_error

        return f"error: {explain_database_error(exc)}"
    return f"unexpected error: {type(exc).__name__}: {first_line(exc)}"


if __name__ == "__main__":
    sys.exit(main())
