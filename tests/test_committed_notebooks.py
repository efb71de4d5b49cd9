"""Committed notebooks are clean: no outputs, no execution counts, no widget state, so a diff
shows only code and no data (or secret) from someone's run is shipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted([*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("reports/*.ipynb")])


def test_there_are_notebooks_to_check() -> None:
    assert {path.name for path in NOTEBOOKS} >= {
        "quickstart.ipynb", "dashboard.ipynb", "cost_report.ipynb", "budget_report.ipynb",
    }  # fmt: skip


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_is_clean(path: Path) -> None:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    code_cells = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert [cell.get("outputs") for cell in code_cells if cell.get("outputs")] == []
    assert [cell["execution_count"] for cell in code_cells if cell.get("execution_count")] == []
    assert "widgets" not in notebook["metadata"]
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
