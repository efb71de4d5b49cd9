"""aa-notebooks: Jupyter-native analytics, cost and reporting for LLM agents."""

from __future__ import annotations

from typing import Any

from aa_notebooks.errors import (
    AnalyticsError,
    BudgetExceededError,
    ConfigurationError,
    DatabaseUnavailableError,
    InvalidInputError,
    NotFoundError,
    PricingError,
    SchemaError,
)

__all__ = [
    "AnalyticsError",
    "BudgetExceededError",
    "ConfigurationError",
    "DatabaseUnavailableError",
    "InvalidInputError",
    "NotFoundError",
    "PricingError",
    "SchemaError",
    "load_ipython_extension",
]


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext aa_notebooks` registers `%agent_analytics` and `%%agent_analytics`."""
    from aa_notebooks.magic import load_ipython_extension as load

    load(ipython)
