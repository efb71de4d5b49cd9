"""The wheel ships the report notebooks, and an installed kit finds them outside a checkout."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_an_installed_wheel_finds_its_report_notebooks(tmp_path: Path) -> None:
    wheels, env = tmp_path / "wheels", tmp_path / "env"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "-q", "-w", str(wheels)],
        check=True,
    )
    venv.create(env, with_pip=True)
    python = env / "bin" / "python"
    (wheel,) = wheels.glob("aa_notebooks-*.whl")
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", wheel], check=True)
    found = subprocess.run(
        [python, "-c", "from aa_notebooks.reporting.notebooks import report_notebook as r; "
         "print(r('cost')); print(r('budget'))"],
        cwd=tmp_path, check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    share = env / "share" / "aa-notebooks" / "reports"
    assert found == [str(share / "cost_report.ipynb"), str(share / "budget_report.ipynb")]
    assert (share / "cost_report.ipynb").read_bytes() == (
        REPO / "reports" / "cost_report.ipynb"
    ).read_bytes()
