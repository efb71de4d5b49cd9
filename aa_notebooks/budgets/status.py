"""A budget's state from its spend: percent used, ok / warning / exceeded, burn rate, projection.

- status: "exceeded" when spend >= threshold; "warning" when spend reaches the budget's lowest
  alert level (threshold * percent / 100: alert_at_percentage unless lower levels are set);
  else "ok" ("unavailable" when this database cannot evaluate it).
- daily burn rate: the window's average, spend / period_days.
- projected exhaustion: when the threshold is reached if spending goes on at that rate, a
  straight line from now that ignores spend leaving the window: now + remaining / rate. It is now
  for an exceeded budget, and None when the rate is zero or the date is more than one period
  away (by then everything counted today has left the window, so the line says nothing).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from html import escape
from typing import Any, overload

import pandas as pd

from aa_notebooks.budgets.model import Budget
from aa_notebooks.budgets.money import cents, micro_dollars
from aa_notebooks.budgets.window import SpendWindow
from aa_notebooks.formatting import readable_frame

SECONDS_PER_DAY = 86_400
NO_BUDGETS = "(no active budgets)"
STATUS_COLUMNS = [
    "id", "name", "scope", "target", "user_id", "per_user", "alert_type", "threshold_usd",
    "alert_at_percentage", "alert_levels", "period_days", "window_start", "window_end", "spend_usd",
    "percent_used", "status", "remaining_usd", "daily_burn_usd", "projected_exhaustion",
    "blocking", "reason",
]  # fmt: skip


class Status(enum.StrEnum):
    """Where a budget's spend stands against its levels."""

    ok = "ok"
    warning = "warning"
    exceeded = "exceeded"
    unavailable = "unavailable"


@dataclass(frozen=True)
class BudgetStatus:
    """A budget evaluated at one moment; the numbers are None when it could not be evaluated."""

    budget: Budget
    status: Status
    window: SpendWindow
    spend_usd: Decimal | None = None
    percent_used: Decimal | None = None
    remaining_usd: Decimal | None = None
    daily_burn_usd: Decimal | None = None
    projected_exhaustion: datetime | None = None
    reason: str | None = None

    @property
    def blocking(self) -> bool:
        """Whether this budget now refuses new executions in its scope."""
        return self.budget.hard_stop and self.status is Status.exceeded

    def as_row(self) -> dict[str, Any]:
        """One flat DataFrame row: money and percent as float, times as aware datetimes."""
        budget = self.budget
        return {
            "id": str(budget.id),
            "name": budget.name,
            "scope": budget.scope.value,
            "target": budget.target,
            "user_id": None if budget.user_id is None else str(budget.user_id),
            "per_user": budget.per_user,
            "alert_type": budget.alert_type.value,
            "threshold_usd": float(budget.threshold_usd),
            "alert_at_percentage": budget.alert_at_percentage,
            "alert_levels": list(budget.levels),
            "period_days": budget.period_days,
            "window_start": self.window.start,
            "window_end": self.window.end,
            "spend_usd": _float(self.spend_usd),
            "percent_used": _float(self.percent_used),
            "status": self.status.value,
            "remaining_usd": _float(self.remaining_usd),
            "daily_burn_usd": _float(self.daily_burn_usd),
            "projected_exhaustion": self.projected_exhaustion,
            "blocking": self.blocking,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class BudgetStatusList(Sequence[BudgetStatus]):
    """The result of `budget_status`: the statuses in order, and the warning to show when alerts
    are due that cannot be emailed; a DataFrame view, a terminal table and an HTML table."""

    statuses: tuple[BudgetStatus, ...] = ()
    email_warning: str | None = None

    @overload
    def __getitem__(self, index: int) -> BudgetStatus: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[BudgetStatus, ...]: ...
    def __getitem__(self, index: int | slice) -> BudgetStatus | tuple[BudgetStatus, ...]:
        return self.statuses[index]

    def __len__(self) -> int:
        return len(self.statuses)

    def __iter__(self) -> Iterator[BudgetStatus]:
        return iter(self.statuses)

    @property
    def frame(self) -> pd.DataFrame:
        """`to_frame()`, as the other results of the budget client have it."""
        return self.to_frame()

    def to_frame(self) -> pd.DataFrame:
        """One row per budget; the warning, if any, in `attrs["email_warning"]`."""
        frame = pd.DataFrame([status.as_row() for status in self], columns=STATUS_COLUMNS)
        for column in ("window_start", "window_end", "projected_exhaustion"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
        frame.attrs["email_warning"] = self.email_warning
        return frame

    def __str__(self) -> str:
        table = readable_frame(self.to_frame()).to_string(index=False) if self else NO_BUDGETS
        return f"{self.email_warning}\n{table}" if self.email_warning else table

    def _repr_html_(self) -> str:
        table = readable_frame(self.to_frame()).to_html(index=False, escape=True)
        return warning_html(self.email_warning) + (table if self else escape(NO_BUDGETS))


def warning_html(text: str | None) -> str:
    """A warning line as a highlighted HTML paragraph (escaped); "" for None."""
    if text is None:
        return ""
    return (
        '<p class="aa-warning" style="color:#92400e;background:#fef3c7;padding:6px 8px;'
        f'border-left:4px solid #d97706"><strong>{escape(text)}</strong></p>'
    )


def assess(budget: Budget, spend: Decimal, now: datetime) -> BudgetStatus:
    """The status of a budget whose window ending at `now` holds `spend`."""
    threshold, days = budget.threshold_usd, budget.period_days
    if spend >= threshold:
        status = Status.exceeded
    elif spend * 100 >= threshold * budget.levels[0]:
        status = Status.warning
    else:
        status = Status.ok
    remaining = max(threshold - spend, Decimal(0))
    return BudgetStatus(
        budget=budget,
        status=status,
        window=SpendWindow.ending(now, days),
        spend_usd=spend,
        percent_used=cents(spend * 100 / threshold),
        remaining_usd=remaining,
        daily_burn_usd=micro_dollars(spend / days),
        projected_exhaustion=_projection(spend, remaining, days, now),
    )


def unavailable(budget: Budget, now: datetime, reason: str) -> BudgetStatus:
    """The status of a budget this database cannot evaluate, and why."""
    window = SpendWindow.ending(now, budget.period_days)
    return BudgetStatus(budget=budget, status=Status.unavailable, window=window, reason=reason)


def _projection(spend: Decimal, remaining: Decimal, days: int, now: datetime) -> datetime | None:
    """now + remaining / (spend / days), within one period; now when nothing remains."""
    if remaining == 0:
        return now
    if spend == 0:
        return None
    seconds = remaining * days * SECONDS_PER_DAY / spend
    if seconds > days * SECONDS_PER_DAY:
        return None
    return now + timedelta(seconds=int(seconds.to_integral_value(ROUND_HALF_UP)))


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)
