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
