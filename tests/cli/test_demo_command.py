"""`aa-notebooks demo` as a pip install runs it: no example notebooks beside the package."""

from __future__ import annotations

from pathlib import Path

import pytest

from aa_notebooks.cli import main
from aa_notebooks.cli.commands import demo

pytestmark = pytest.mark.slow


def test_without_the_example_notebooks_it_points_at_the_magic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """It skipped the notebooks, then said to open demo-out/dashboard.ipynb, which it had not
    written."""
    monkeypatch.setattr(demo, "CHECKOUT", tmp_path / "site-packages")
    out_dir = tmp_path / "demo-out"
    code = main(["--db", f"sqlite:///{tmp_path / 'demo.db'}", "demo", "--output-dir", str(out_dir)])
    out = capsys.readouterr().out
    assert code == 0
    assert "skipped dashboard.ipynb: not found" in out
    assert sorted(path.suffix for path in out_dir.iterdir()) == [".html", ".html"]
    assert out.rstrip().endswith(
        "The widgets need a live kernel: `%load_ext aa_notebooks` then `%agent_analytics "
        "dashboard` in a notebook shows the dashboard (drag across its executions chart to "
        "narrow it), the executions grid and a trace waterfall."
    )
