"""The command reference as Markdown, generated from the parsers' own `--help` texts.

`python -m aa_notebooks.cli.reference cli|magic` prints it; `scripts/docs` writes it to
`docs/cli.md` and `docs/magic.md`, and a test fails when those files differ from what the
parsers say now, so the reference cannot drift from the commands.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from aa_notebooks.cli.commands import PROG, build_parser
from aa_notebooks.cli.context import FrontEnd

WIDTH = 100
"""Help texts are wrapped at this width, whatever the terminal, so the output is stable."""

INTRO = {
    "cli": (
        "Every command of `aa-notebooks`, with the help it prints. The same commands run in a "
        "notebook as `%agent_analytics` (see the magic reference)."
    ),
    "magic": (
        "Every subcommand of `%agent_analytics` (after `%load_ext aa_notebooks`), with the help "
        "it prints. `-o NAME` keeps the result in the notebook as `NAME`; rows come back as a "
        "pandas DataFrame."
    ),
}


def reference(front_end: FrontEnd) -> str:
    """The Markdown reference of every command of `front_end` ("cli" or "magic")."""
    with _fixed_width():
        parser = build_parser(front_end)
        sections = [f"# `{PROG[front_end]}` reference", "", INTRO[front_end], ""]
        for path, command in _commands(parser, ()):
            title = " ".join(path) if path else PROG[front_end]
            sections += [f"## `{title}`", "", "```text", command.format_help().rstrip(), "```", ""]
    return "\n".join(sections)


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """The parser and each of its subcommands, depth first, in registration order."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


@contextmanager
def _fixed_width() -> Iterator[None]:
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(WIDTH)
    try:
        yield
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved


if __name__ == "__main__":
    chosen = sys.argv[1] if len(sys.argv) > 1 else "cli"
    if chosen not in ("cli", "magic"):
        sys.exit("usage: python -m aa_notebooks.cli.reference [cli|magic]")
    sys.stdout.write(reference("magic" if chosen == "magic" else "cli"))
