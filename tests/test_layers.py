"""The layers of docs/architecture.md hold: import-linter's contract in pyproject.toml passes on
the package, and fails on a copy where a lower layer imports a higher one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """Run the contracts of `root`/pyproject.toml on the package found under `root`."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True
    )


def test_the_package_keeps_its_layers() -> None:
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_an_upward_import_breaks_the_contract(tmp_path: Path) -> None:
    """analytics importing budgets (what the budgets client replaced) is refused."""
    shutil.copytree(ROOT / "aa_notebooks", tmp_path / "aa_notebooks")
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with (tmp_path / "aa_notebooks" / "analytics" / "client.py").open("a") as module:
        module.write("\nfrom aa_notebooks.budgets import crud  # noqa\n")
    done = lint_imports(tmp_path)
    assert done.returncode == 1
    assert "aa_notebooks.analytics is not allowed to import aa_notebooks.budgets" in done.stdout
