"""aa-notebooks: Jupyter-native analytics, cost and reporting for LLM agents.

Public names are imported on first use, so agent code that only records executions
(`from aa_notebooks import track_agent`) does not load pandas or the notebook stack.
"""

from __future__ import annotations

from importlib import import_module as _import_module
from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _version
from typing import Any as _Any

from aa_notebooks.errors import (
    AnalyticsError,
    BudgetExceededError,
    ConfigurationError,
    DatabaseUnavailableError,
    InvalidInputError,
    MissingExtraError,
    NotFoundError,
    PricingError,
    RefusedQueryError,
    ReportError,
    SchemaError,
    UnsupportedHereError,
)

try:
    __version__ = _version("aa-notebooks")
except _PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

_LAZY = {
    "Analytics": "aa_notebooks.analytics",
    "connect": "aa_notebooks.analytics",
    "calculate_cost": "aa_notebooks.pricing",
    "is_priced": "aa_notebooks.pricing",
    "price_source": "aa_notebooks.pricing",
    "priced_cost": "aa_notebooks.pricing",
    "reprice": "aa_notebooks.tracking.reprice",
    "check_budget": "aa_notebooks.budgets",
    "budget_status": "aa_notebooks.budgets",
    "evaluate_budgets": "aa_notebooks.budgets",
    "BudgetClient": "aa_notebooks.budgets.client",
    "connect_budgets": "aa_notebooks.budgets.client",
    "run_report": "aa_notebooks.reporting",
    "track_agent": "aa_notebooks.tracking",
    "Tracker": "aa_notebooks.tracking",
    "configure": "aa_notebooks.tracking",
    "current_run": "aa_notebooks.tracking",
    "init_db": "aa_notebooks.db.setup",
    "check_db": "aa_notebooks.db.inspection",
    "seed_database": "aa_notebooks.seed",
}

__all__ = [
    "AnalyticsError",
    "BudgetExceededError",
    "ConfigurationError",
    "DatabaseUnavailableError",
    "InvalidInputError",
    "MissingExtraError",
    "NotFoundError",
    "PricingError",
    "RefusedQueryError",
    "ReportError",
    "SchemaError",
    "UnsupportedHereError",
    "__version__",
    "load_ipython_extension",
    *_LAZY,
]


def __getattr__(name: str) -> _Any:
    """Import a public name from its module on first access."""
    if name in _LAZY:
        return getattr(_import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'aa_notebooks' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names, lazy ones included, for tab completion and `dir(aa_notebooks)`."""
    return sorted(__all__)


def load_ipython_extension(ipython: _Any) -> None:
    """`%load_ext aa_notebooks` registers `%agent_analytics` and `%%agent_analytics`."""
    from aa_notebooks.magic import load_ipython_extension as load

    load(ipython)
