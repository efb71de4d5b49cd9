"""notebooks/quickstart.ipynb runs top to bottom in a real kernel against the seeded demo data."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
import papermill
import pytest

from aa_notebooks.analytics import connect
from aa_notebooks.seed import seed_database

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "quickstart.ipynb"


@pytest.mark.slow
def test_quickstart_runs_on_the_demo_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    seed_database(url)
    monkeypatch.setenv("AA_DATABASE_URL", url)
    executed = tmp_path / "quickstart.out.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK), str(executed), kernel_name="python3", cwd=str(tmp_path), progress_bar=False
    )
    notebook = nbformat.read(executed, as_version=4)
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    expected_total = connect(url).overview("30d").total_executions
    exported = pd.read_csv(tmp_path / "executions.csv")
    assert len(exported) == expected_total > 0
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert "Overview" in html and "Trace steps" in html
