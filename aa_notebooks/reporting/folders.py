"""The folder reports are written to: made, and checked that a file can be written there."""

from __future__ import annotations

import tempfile
from pathlib import Path

from aa_notebooks.errors import InvalidInputError


def make_output_dir(folder: Path) -> None:
    """Make the folder reports will be written to, and try writing a file in it: a schedule's
    folder is checked when the schedule is added, not found wrong at its first run."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise unusable_folder(folder, exc) from None


def unusable_folder(folder: Path, exc: OSError, instead: str | None = None) -> InvalidInputError:
    """The error for a folder that cannot be made or written to; `instead` names what to give
    instead of `--output-dir a folder`."""
    return InvalidInputError(
        f"cannot make the output folder {folder}: {exc.strerror or exc}; give "
        f"{instead or '--output-dir a folder'} you can write to"
    )
