"""The kit's notebook runs end without interrupting the finished kernel (no KeyboardInterrupt
logged by the kernel at the end of a report or of the demo)."""

from __future__ import annotations

import logging
from pathlib import Path

import nbformat
import pytest

from aa_notebooks.reporting.kernel import declared_parameters, execute_notebook

# ipykernel puts `saved_sigint_handler` back after each request, so this stays installed while
# the kernel is idle and records any SIGINT that reaches it, such as an interrupt at shutdown.
RECORD_INTERRUPTS = """\
import logging
from pathlib import Path

def record(signum, frame):
    Path("interrupted").write_text("SIGINT")

get_ipython().kernel.saved_sigint_handler = record
"""


def _notebook(path: Path, *cells: str) -> Path:
    """A python3 notebook of these code cells, written to `path`."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(cell) for cell in cells]
    notebook.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                       "display_name": "Python 3"}  # fmt: skip
    nbformat.write(notebook, path)
    return path


@pytest.mark.slow
def test_a_finished_kernel_is_shut_down_without_an_interrupt(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    source = _notebook(tmp_path / "record.ipynb", RECORD_INTERRUPTS, "6*7")
    executed = execute_notebook(source, tmp_path / "out.ipynb", cwd=tmp_path, progress=False)
    assert executed.cells[1].outputs[0]["data"]["text/plain"] == "42"
    assert not (tmp_path / "interrupted").exists()
    assert "KeyboardInterrupt" not in capfd.readouterr().err


@pytest.mark.slow
def test_the_kernels_channels_are_encrypted(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The kernel holds the CurveZMQ keys its manager provisioned, and so does not warn that
    code and outputs go over TCP in plain text."""
    source = _notebook(
        tmp_path / "curve.ipynb", "bool(get_ipython().kernel.parent.curve_secretkey)"
    )
    executed = execute_notebook(source, tmp_path / "out.ipynb", cwd=tmp_path, progress=False)
    assert executed.cells[0].outputs[0]["data"]["text/plain"] == "True"
    assert "without encryption" not in capfd.readouterr().err


def test_a_notebook_that_names_no_kernel_has_its_parameters_read(tmp_path: Path) -> None:
    """nbformat makes notebooks without a kernelspec; papermill's inspection refused them
    ('No kernel name found'), and a report of such a notebook failed before it ran."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell('period = "7d"\ntop_n = 5', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print(period)"),
    ]
    nbformat.write(notebook, tmp_path / "mine.ipynb")
    declared = declared_parameters(tmp_path / "mine.ipynb")
    assert {name: found["default"] for name, found in declared.items()} == {
        "period": '"7d"', "top_n": "5"
    }  # fmt: skip
    assert "kernelspec" not in nbformat.read(tmp_path / "mine.ipynb", as_version=4).metadata


def test_reading_a_notebooks_parameters_logs_no_input_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A report reads its notebook's parameters, then runs it: papermill's "Input Notebook"
    line came twice in the scheduler's log. The run logs it; the reading does not, and leaves
    papermill's other lines alone."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell("days = 3", metadata={"tags": ["parameters"]})]
    nbformat.write(notebook, tmp_path / "mine.ipynb")
    with caplog.at_level("INFO", logger="papermill"):
        assert declared_parameters(tmp_path / "mine.ipynb")["days"]["default"] == "3"
        logging.getLogger("papermill").info("Input Notebook:  after the reading")
    lines = [record.getMessage() for record in caplog.records]
    assert [line for line in lines if line.startswith("Input")] == [
        "Input Notebook:  after the reading"
    ]
