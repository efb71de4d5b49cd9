"""`Budget`: one budgetalerts row as a frozen value, with the data contract's defaults for NULLs."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import RowMapping

from aa_notebooks.db.schema import BudgetAlertType, BudgetScope
from aa_notebooks.formatting import money

# The contract's DDL defaults: an AgentOS row may hold NULL where the kit always writes a value.
ROW_DEFAULTS: dict[str, Any] = {
    "period_days": 30,
    "alert_at_percentage": 80,
    "is_active": True,
    "email_notification": True,
    "current_spend_usd": Decimal(0),
    "per_user": False,
}


@dataclass(frozen=True)
class Budget:
    """A budget: a threshold on the spend of one scope over a rolling window of period_days."""

    id: uuid.UUID
    name: str | None
    scope: BudgetScope
    target: str | None
    user_id: uuid.UUID | None
    threshold_usd: Decimal
    period_days: int
    alert_type: BudgetAlertType
    alert_at_percentage: int
    is_active: bool
    email_notification: bool
    current_spend_usd: Decimal
    alert_levels: tuple[int, ...] = ()
    per_user: bool = False

    @property
    def levels(self) -> tuple[int, ...]:
        """The percentages of the threshold at which alerts fire, lowest first: the extra
        `alert_levels`, `alert_at_percentage` and 100 (the threshold itself)."""
        return tuple(sorted({*self.alert_levels, self.alert_at_percentage, 100}))

    @property
    def label(self) -> str:
        """Its name, or its id when it has none (a budget made by AgentOS); a per-user budget
        applied to one user also names the user."""
        label = self.name or str(self.id)
        if self.per_user and self.user_id is not None:
            return f"{label} (user {self.user_id})"
        return label

    @property
    def template(self) -> bool:
        """Whether this is a per-user budget not yet applied to a user (`for_user`)."""
        return self.per_user and self.user_id is None

    def for_user(self, user_id: uuid.UUID) -> Budget:
        """This per-user budget as it applies to one user: a user budget of that user, which
        keeps its id (its events, lock and status are the template's) and `per_user`."""
        return replace(self, user_id=user_id)

    @property
    def stored_problem(self) -> str | None:
        """Why a stored budget cannot be evaluated: a threshold or window another program wrote
        outside what a budget can be (the kit never writes one), or None."""
        owned = self.scope is not BudgetScope.user or self.per_user or self.user_id is not None
        if (
            self.threshold_usd > 0
            and self.period_days >= 1
            and 1 <= self.alert_at_percentage <= 100
            and owned
        ):
            return None  # asked of every budget a run or a batch meets: the usual case first
        fix = f"set it with `aa-notebooks budgets update {self.id}"
        if not owned:
            return (
                f"it is a user budget without a user_id, so it counts no one; "
                f"{fix} --budget-user ID`"
            )
        if self.threshold_usd <= 0:
            return (
                f"its threshold_usd is {self.threshold_usd}, not above 0; {fix} --threshold-usd N`"
            )
        if self.period_days < 1:
            return f"its period_days is {self.period_days}, under 1; {fix} --period-days N`"
        if not 1 <= self.alert_at_percentage <= 100:
            return (
                f"its alert_at_percentage is {self.alert_at_percentage}, outside 1-100; "
                f"{fix} --alert-at-percentage N`"
            )
        return None

    @property
    def hard_stop(self) -> bool:
        """Whether reaching the threshold refuses new executions."""
        return self.alert_type is BudgetAlertType.hard_stop

    def to_frame(self) -> pd.DataFrame:
        """This budget as a one-row DataFrame (as `list_budgets` shows it)."""
        return budgets_frame([self])

    def record(self) -> list[tuple[str, str]]:
        """(field, value) pairs as people read them: money in dollars, nothing for a missing
        value, true or false as the command line takes them."""
        return [(name, _readable(name, getattr(self, name))) for name in BUDGET_FIELDS]

    def __str__(self) -> str:
        width = max(len(name) for name in BUDGET_FIELDS)
        return "\n".join(f"{name:<{width}}  {value}".rstrip() for name, value in self.record())

    def _repr_html_(self) -> str:
        frame = pd.DataFrame(self.record(), columns=["field", "value"])
        return str(frame.to_html(index=False, escape=True))

    @classmethod
    def from_row(cls, row: Mapping[str, Any] | RowMapping) -> Budget:
        """A Budget from a row mapping; absent columns (name, target) read as None."""
        values: dict[str, Any] = {name: row.get(name) for name in BUDGET_FIELDS}
        for name, default in ROW_DEFAULTS.items():
            if values[name] is None:
                values[name] = default
        values["alert_levels"] = parse_levels(values["alert_levels"])
        values["scope"] = BudgetScope(values["scope"])
        values["alert_type"] = BudgetAlertType(values["alert_type"])
        return cls(**values)


BUDGET_FIELDS = tuple(f.name for f in fields(Budget))


def parse_levels(text: str | None) -> tuple[int, ...]:
    """Stored alert levels ("50,90") as numbers; none for NULL or an empty text."""
    return tuple(int(part) for part in (text or "").split(",") if part.strip())


def levels_text(levels: tuple[int, ...]) -> str | None:
    """Alert levels as stored: "50,90"; NULL for none."""
    return ",".join(map(str, levels)) or None


def budgets_frame(budgets: list[Budget]) -> pd.DataFrame:
    """Budgets as a DataFrame, one row each; ids and enums as text (as in the executions' frames),
    money as float for display, a missing value as missing."""
    rows = [asdict(budget) for budget in budgets]
    for row in rows:
        row["id"] = str(row["id"])
        row["user_id"] = None if row["user_id"] is None else str(row["user_id"])
        row["scope"], row["alert_type"] = row["scope"].value, row["alert_type"].value
        row["threshold_usd"] = float(row["threshold_usd"])
        row["current_spend_usd"] = float(row["current_spend_usd"])
        row["alert_levels"] = list(row["alert_levels"])
    return pd.DataFrame(rows, columns=list(BUDGET_FIELDS))


def _readable(name: str, value: Any) -> str:
    """One field's value as `Budget.record` shows it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return levels_text(value) or ""
    if isinstance(value, enum.Enum):
        return str(value.value)
    if name.endswith("_usd"):
        return money(value)
    return str(value)
