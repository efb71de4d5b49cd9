"""The analytics layer: every endpoint of the data contract as a Python function.

`connect(url, user_id=None)` returns an `Analytics` client; its methods push the aggregation
down into SQL on SQLite and PostgreSQL alike and return typed results (or DataFrames). It is the
single source of numbers for the magic, the widgets and the reports.
"""

from aa_notebooks.analytics.client import Analytics, connect
from aa_notebooks.analytics.dialect import Percentiles
from aa_notebooks.analytics.execution_rows import ExecutionRows
from aa_notebooks.analytics.periods import Window
from aa_notebooks.analytics.results import (
    AgentStats,
    CostForecast,
    ExecutionDetail,
    ExecutionPage,
    ExportResult,
    Overview,
    Table,
)

__all__ = [
    "AgentStats",
    "Analytics",
    "CostForecast",
    "ExecutionDetail",
    "ExecutionPage",
    "ExecutionRows",
    "ExportResult",
    "Overview",
    "Percentiles",
    "Table",
    "Window",
    "connect",
]
