"""SeedReport: what `seed_database` wrote, over which span, in how long."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SeedReport:
    """Rows written per table, the span the executions were spread over (the first and last
    start fall inside it), and the time it took."""

    url: str
    executions: int
    trace_steps: int
    token_usages: int
    budget_alerts: int
    users: int
    span_start: datetime
    span_end: datetime
    elapsed_seconds: float
    deleted_executions: int = 0

    def __str__(self) -> str:
        replaced = (
            f" (replacing {self.deleted_executions:,} executions)"
            if self.deleted_executions
            else ""
        )
        return (
            f"seeded {self.url}{replaced}: {self.executions:,} executions, "
            f"{self.trace_steps:,} trace steps, {self.token_usages:,} token usages, "
            f"{self.budget_alerts} budget alerts, {self.users} users; executions spread over "
            f"{self.span_start:%Y-%m-%d %H:%M} to {self.span_end:%Y-%m-%d %H:%M} UTC; "
            f"{self.elapsed_seconds:.1f} s"
        )
