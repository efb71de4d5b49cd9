"""Where the report notebooks are: `reports/` of a checkout, or where the wheel installed them.

The wheel ships `reports/*.ipynb` as data files under `<prefix>/share/aa-notebooks/reports`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from aa_notebooks.shipped import CHECKOUT, INSTALLED, shipped_file

ReportKind = Literal["cost", "budget"]
REPORT_KINDS: tuple[ReportKind, ...] = get_args(ReportKind)
DEFAULT_OUTPUT_DIR = "aa-reports"
CHECKOUT_REPORTS = CHECKOUT / "reports"
INSTALLED_REPORTS = INSTALLED / "reports"


def report_notebook(kind: str) -> Path:
    """The notebook of the "cost" or "budget" report."""
    name = f"{kind}_report.ipynb"
    return shipped_file(CHECKOUT_REPORTS, INSTALLED_REPORTS, name, "report notebook")
