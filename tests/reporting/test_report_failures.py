"""A report notebook that fails keeps its partial notebook and says where; bad input fails early."""

from __future__ import annotations

import re
import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from aa_notebooks.cli import main
from aa_notebooks.errors import ConfigurationError, InvalidInputError, PricingError
from aa_notebooks.reporting import run_report
from tests.analytics import dataset


def _failing_notebook(path) -> None:
    cells = [
        new_code_cell('period = None\ntitle = "x"', metadata={"tags": ["parameters"]}),
        new_code_cell('print("first cell ran")'),
        new_code_cell('raise ValueError("the third cell breaks")'),
        new_code_cell('print("never")'),
    ]
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                       "display_name": "Python 3"}  # fmt: skip
    nbformat.write(notebook, path)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_failing_notebook_is_kept_and_the_run_exits_non_zero(
    db_url: str, tmp_path, capsys
) -> None:
    dataset.load(db_url)
    source, out = tmp_path / "mine.ipynb", tmp_path / "out"
    _failing_notebook(source)
    code = main([
        "--db", db_url, "report", "cost", "--notebook", str(source), "--output-dir", str(out),
    ])  # fmt: skip
    error = capsys.readouterr().err.strip().splitlines()[-1]  # after the progress bar
    assert code == 1
    kept = list(out.glob("cost-report-*.ipynb"))
    assert len(kept) == 1 and not list(out.glob("*.html"))
    # Cell 4 of the kept notebook, where papermill added its injected-parameters cell.
    assert error == (
        f"aa-notebooks: error: the cost report failed in cell 4: ValueError: the third cell "
        f"breaks; the partly executed notebook is kept at {kept[0]}"
    )
    executed = nbformat.read(kept[0], as_version=4)
    ran = [cell for cell in executed.cells if cell.get("outputs")]
    assert any("first cell ran" in out.get("text", "") for c in ran for out in c.outputs)
    assert not any("never" in out.get("text", "") for c in ran for out in c.outputs)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"period": "7days"}, "period must be"),
        ({"start_date": "2026-13-01", "end_date": "2026-12-02"}, "start_date must be a date"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"top_n": 0}, "top_n must be between 1 and 1000"),
        ({"user_id": "alice"}, "user_id must be a UUID"),
        ({"as_of": "yesterday"}, "as_of must be an ISO 8601 time"),
        ({"notebook": "missing.ipynb"}, "no report notebook at missing.ipynb"),
    ],
)
def test_bad_input_fails_before_a_kernel_starts(db_url: str, tmp_path, options, message) -> None:
    with pytest.raises(InvalidInputError, match=message):
        run_report("cost", database_url=db_url, output_dir=tmp_path / "out", **options)
    assert not (tmp_path / "out").exists()


def test_an_output_folder_that_cannot_be_made_fails_before_a_kernel_starts(
    db_url: str, tmp_path
) -> None:
    taken = tmp_path / "taken"
    taken.write_text("a file, not a folder")
    said = f"cannot make the output folder {taken}: File exists; give --output-dir a folder"
    with pytest.raises(InvalidInputError, match=re.escape(said)):
        run_report("cost", database_url=db_url, output_dir=taken)
    assert taken.read_text() == "a file, not a folder"


def test_an_unknown_report_lists_the_known_ones(db_url: str) -> None:
    with pytest.raises(
        InvalidInputError, match="unknown report 'costs': choose one of cost, budget"
    ):
        run_report("costs", database_url=db_url)


def test_no_database_says_how_to_make_one(tmp_path) -> None:
    with pytest.raises(ConfigurationError, match=r"no database yet at .*aa-notebooks seed"):
        run_report("cost", database_url=f"sqlite:///{tmp_path / 'none.db'}")


def test_a_malformed_price_file_fails_before_a_kernel_starts(
    db_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text("[[[")
    monkeypatch.setenv("AA_PRICING_FILE", str(prices))
    with pytest.raises(PricingError, match=f"pricing file {prices}: invalid TOML"):
        run_report("cost", database_url=db_url, output_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_report_prices_with_the_callers_price_file(db_url: str, tmp_path) -> None:
    """A price file chosen in the calling process (not in the environment) reaches the kernel:
    acme-internal-llm at $1 / $2 per million makes E05 (1,000 in, 500 out) cost $0.002."""
    from aa_notebooks.pricing import set_price_file
    from tests.reporting.conftest import AS_OF
    from tests.reporting.html_tables import table_with

    dataset.load(db_url)
    prices = tmp_path / "prices.toml"
    prices.write_text(
        f'[models."{dataset.UNPRICED}"]\ninput_per_million = 1.0\noutput_per_million = 2.0\n'
    )
    set_price_file(prices)
    try:
        result = run_report(
            "cost", database_url=db_url, as_of=AS_OF, output_dir=tmp_path, progress=False
        )
    finally:
        set_price_file(None)
    models = table_with(result.html_path.read_text(), "Model")
    assert [dataset.UNPRICED, "1", "1,500", "$0.00", "0.0%"] in models  # stored cost stays 0
    assert "Unpriced models" not in result.html_path.read_text()  # but it is priced now


@pytest.mark.parametrize("command", [["report", "cost"], ["demo"]])
def test_without_the_notebook_extra_a_report_names_the_extra(command: list[str], tmp_path) -> None:
    """A plain `pip install aa-notebooks` has no pyzmq, papermill or nbconvert: the report and
    the demo say which extra to install instead of 'unexpected error: ModuleNotFoundError'."""
    script = (
        "import sys; sys.modules['zmq'] = None\n"  # as if pyzmq were not installed
        "from aa_notebooks.cli import main\n"
        f"sys.exit(main(['--db', 'sqlite:///{tmp_path / 'a.db'}', *{command!r}]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
        cwd=tmp_path,
    )  # fmt: skip
    assert (done.returncode, done.stderr.splitlines()[-1]) == (
        2,
        "aa-notebooks: error: zmq is not installed; install it with: "
        "pip install 'aa-notebooks[notebook]'",
    )
