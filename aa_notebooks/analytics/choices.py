"""Options with a fixed set of values: a Literal type for callers and type checkers, and the
tuple of its values that checks what arrives at run time (from the CLI, the API or a notebook)."""

from typing import Literal, TypeVar, get_args

from aa_notebooks.errors import InvalidInputError

Choice = TypeVar("Choice", bound=str)

SortColumn = Literal[
    "started_at", "completed_at", "execution_time_ms", "cost_usd", "total_tokens",
    "input_tokens", "output_tokens", "agent_name", "model_name", "status",
]  # fmt: skip
"""The executions' sort columns: a whitelist, never SQL from the caller."""
SORT_COLUMNS: tuple[SortColumn, ...] = get_args(SortColumn)

SortOrder = Literal["asc", "desc"]
SORT_ORDERS: tuple[SortOrder, ...] = get_args(SortOrder)

Bucket = Literal["hour", "day"]
"""The width of a time series' buckets."""
BUCKETS: tuple[Bucket, ...] = get_args(Bucket)

CostBy = Literal["model", "agent", "user", "day"]
"""How `cost_summary` groups the cost."""
COST_BY: tuple[CostBy, ...] = get_args(CostBy)

CostSeriesBy = Literal["model", "agent"]
"""How `cost_timeseries` splits each bucket."""
COST_TIMESERIES_BY: tuple[CostSeriesBy, ...] = get_args(CostSeriesBy)

AnomalyBy = Literal["agent", "model"]
"""Whose daily series `anomalies` judges."""
ANOMALY_BY: tuple[AnomalyBy, ...] = get_args(AnomalyBy)


def choose(value: str, choices: tuple[Choice, ...], name: str) -> Choice:
    """`value` as one of `choices` (typed as they are), or an error naming them all: for values
    that arrive as plain text at the edges (HTTP query, widget state, report parameter)."""
    for choice in choices:
        if choice == value:
            return choice
    raise InvalidInputError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
