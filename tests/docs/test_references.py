"""The command references in docs/ are what the commands say now, and name every command and
option, so the docs cannot drift from the code (`scripts/docs` regenerates them)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from aa_notebooks.cli.commands import build_parser
from aa_notebooks.cli.reference import reference

DOCS = Path(__file__).resolve().parents[2] / "docs"
REGENERATE = "docs/{name}.md is out of date: run scripts/docs and commit the result"


@pytest.mark.parametrize("front_end", ["cli", "magic"])
def test_reference_is_current(front_end: str) -> None:
    committed = (DOCS / f"{front_end}.md").read_text(encoding="utf-8")
    assert committed == reference(front_end), REGENERATE.format(name=front_end)


@pytest.mark.parametrize("front_end", ["cli", "magic"])
def test_every_command_and_option_is_documented(front_end: str) -> None:
    text = (DOCS / f"{front_end}.md").read_text(encoding="utf-8")
    missing = []
    for path, parser in _all(build_parser(front_end), ()):
        if path and f"## `{' '.join(path)}`" not in text:
            missing.append(" ".join(path))
        for action in parser._actions:
            missing += [option for option in action.option_strings if option not in text]
    assert missing == []


@pytest.mark.parametrize("front_end", ["cli", "magic"])
def test_no_help_shows_an_escaped_percent(front_end: str) -> None:
    """argparse formats `help` with %, not `description`: "16%%" there was printed as is."""
    assert "%%" not in reference(front_end).replace("%%agent_analytics", "")


def test_the_readmes_command_summary_names_every_command() -> None:
    """The README's "Command line" block had fallen behind: eight commands were missing."""
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Command line", 1)[1].split("```text", 1)[1].split("```", 1)[0]
    named = set(re.findall(r"[a-z][a-z-]*", block))
    commands = {path[0] for path, _ in _all(build_parser("cli"), ()) if len(path) == 1}
    assert sorted(commands - named) == []


def _all(
    parser: argparse.ArgumentParser, path: tuple[str, ...]
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _all(sub, (*path, name))
    return found
