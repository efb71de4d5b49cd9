"""Where the report notebooks are: `reports/` of a checkout, or where the wheel installed them.

The wheel ships `reports/*.ipynb` as data files under `<prefix>/share/aa-notebooks/reports`.
"""

from __future__ import annotations

import sysconfig
from pathlib import Path
from typing import Literal, get_args

from aa_notebooks.errors import ConfigurationError

ReportKind = Literal["cost", "budget"]
REPORT_KINDS: tuple[ReportKind, ...] = get_args(ReportKind)
DEFAULT_OUTPUT_DIR = "aa-reports"
CHECKOUT_REPORTS = Path(__file__).resolve().parents[2] / "reports"
INSTALLED_REPORTS = Path(sysconfig.get_path("data")) / "share" / "aa-notebooks" / "reports"


def report_notebook(kind: str) -> Path:
    """The notebook of the "cost" or "budget" report."""
    name = f"{kind}_report.ipynb"
    for folder in (CHECKOUT_REPORTS, INSTALLED_REPORTS):
        if (folder / name).is_file():
            return folder / name
    raise ConfigurationError(
        f"the report notebook {name} is in neither {CHECKOUT_REPORTS} nor {INSTALLED_REPORTS}: "
        "reinstall aa-notebooks"
    )
