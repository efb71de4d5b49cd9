"""`report --notebook`: a notebook of your own keeps its own defaults for what was not given."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from aa_notebooks.cli import main

PARAMETERS = 'period = "30d"\nstart_date = None\nend_date = None\ntitle = "Mine"'
SHOW = 'print(f"period={period!r} start={start_date!r} end={end_date!r} title={title!r}")'


@pytest.fixture
def own_notebook(tmp_path: Path) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(PARAMETERS), nbformat.v4.new_code_cell(SHOW)]
    notebook.cells[0].metadata["tags"] = ["parameters"]
    notebook.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                       "display_name": "Python 3"}  # fmt: skip
    path = tmp_path / "mine.ipynb"
    nbformat.write(notebook, path)
    return path


def printed(capsys: pytest.CaptureFixture[str], argv: list[str], folder: Path) -> str:
    """Run `report` keeping the executed notebook; what its second cell printed."""
    code = main([*argv, "--output-dir", str(folder), "--keep-notebook"])
    assert code == 0, capsys.readouterr()
    capsys.readouterr()
    (executed,) = folder.glob("*.ipynb")
    cell = nbformat.read(executed, as_version=4).cells[-1]
    return "".join(output.get("text", "") for output in cell.outputs).strip()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_own_notebook_keeps_its_defaults(
    db_url: str, own_notebook: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = ["--db", db_url, "report", "cost", "--notebook", str(own_notebook), "--title", "T"]
    assert printed(capsys, report, tmp_path / "a") == (
        "period='30d' start=None end=None title='T'"  # nothing given: its own 30d
    )
    dates = ["--start-date", "2026-11-01", "--end-date", "2026-11-02"]
    assert printed(capsys, [*report, *dates], tmp_path / "b") == (
        "period=None start='2026-11-01' end='2026-11-02' title='T'"
    )
    assert printed(capsys, [*report, "--period", "24h"], tmp_path / "c") == (
        "period='24h' start=None end=None title='T'"
    )


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_output_writes_the_report_to_that_file(
    db_url: str, own_notebook: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--output` is a file, not a folder `--output-dir` would make of an abbreviation. The
    notebook kept beside it has a name of its own: the user's `weekly.ipynb` there is neither
    replaced nor deleted (as a plain `weekly.ipynb` for the executed one did)."""
    target = tmp_path / "made" / "weekly.html"
    target.parent.mkdir()
    mine = target.with_suffix(".ipynb")
    mine.write_text("my own notebook")
    argv = ["--db", db_url, "report", "cost", "--notebook", str(own_notebook)]
    assert main([*argv, "--output", str(target), "--keep-notebook"]) == 0
    assert main([*argv, "--output", str(target)]) == 0
    capsys.readouterr()
    names = {path.name for path in target.parent.iterdir()}
    [executed] = names - {"weekly.html", "weekly.ipynb"}  # the kept one; the other was deleted
    assert {"weekly.html", "weekly.ipynb"} <= names and len(names) == 3
    assert re.fullmatch(r"weekly-executed-\d{8}-\d{6}-\d{6}\.ipynb", executed)
    assert mine.read_text() == "my own notebook"
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "output, said",
    [
        ("report.pdf", "the report's output must be an .html file, got 'report.pdf'"),
        (".", "the report's output must be an .html file, got '.'"),
    ],
)
def test_output_that_is_no_html_file_is_refused_before_a_kernel_starts(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], output: str, said: str
) -> None:
    assert main(["--db", db_url, "report", "cost", "--output", output]) == 2
    assert said in capsys.readouterr().err


def test_output_and_output_dir_are_one_or_the_other(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "cost", "--output", "a.html", "--output-dir", "b"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err
