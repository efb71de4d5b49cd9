"""Every public name resolves, and importing the package stays light for agent processes."""

from __future__ import annotations

import subprocess
import sys

import aa_notebooks


def test_every_public_name_resolves() -> None:
    for name in aa_notebooks.__all__:
        assert getattr(aa_notebooks, name) is not None


def test_import_does_not_load_pandas() -> None:
    code = "import sys, aa_notebooks; print('pandas' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False"


def test_dir_lists_the_public_names_and_nothing_else() -> None:
    names = dir(aa_notebooks)
    assert names == sorted(aa_notebooks.__all__)
    assert {"connect", "Analytics", "run_report", "evaluate_budgets", "Tracker"} <= set(names)
    assert not {"Any", "annotations", "import_module"} & set(names)


def test_version_comes_from_the_package_metadata() -> None:
    from importlib.metadata import version

    assert aa_notebooks.__version__ == version("aa-notebooks")


def test_the_package_says_it_is_typed() -> None:
    from importlib.resources import files

    assert files("aa_notebooks").joinpath("py.typed").is_file()
