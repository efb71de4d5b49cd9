"""Alert events: when a budget's spend reaches one of its alert levels.

A budget's levels are percentages of its threshold (`Budget.levels`: its extra alert_levels,
alert_at_percentage, and 100). 100 is "exceeded", the others are "warning". An event for a level
is recorded when the spend is at or above it and no event for that level, at the budget's current
threshold, fired within the current rolling window (fired_at >= now - period_days): each level
fires once per window, however often the spend dips under it and back as old executions leave the
window. A new event needs a whole period to pass with no event for the level, or the threshold to
change. The rule also catches levels reached without a write (a lowered threshold, a budget
created over its level), the first time the budget is evaluated. Budget backtests replay the
same rule.

Events recorded before levels existed carry no level: they stand for every level of their kind.
A per-user budget keeps these windows for each user separately: its events name the user.

Callers hold the budget's row lock (`load_budgets(lock=True)`, or SQLite's write lock), so two
writers never both record the same level.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, Connection, or_, select

from aa_notebooks.budgets.model import Budget
from aa_notebooks.budgets.scope import BUDGETS
from aa_notebooks.budgets.window import SpendWindow
from aa_notebooks.db.schema import BudgetAlertEvent, table_of
from aa_notebooks.db.stored_uuid import as_referenced
from aa_notebooks.formatting import money

EVENTS = table_of(BudgetAlertEvent)


class AlertKind(enum.StrEnum):
    """Which level an event is about."""

    warning = "warning"
    exceeded = "exceeded"


@dataclass(frozen=True)
class AlertEvent:
    """One recorded crossing, as stored in budgetalertevents."""

    id: uuid.UUID
    budget_id: uuid.UUID
    kind: AlertKind
    spend_usd: Decimal
    threshold_usd: Decimal
    window_start: datetime
    fired_at: datetime
    notified: bool
    level_pct: int | None
    user_id: uuid.UUID | None = None
    muted: bool = False
    """Fired while its budget's notifications were off: never sent, on any channel."""

    @property
    def threshold_reached(self) -> bool:
        """Whether the spend had reached the threshold when it fired: a warning can fire
        together with the threshold, when one run's cost jumps past both."""
        return self.kind is AlertKind.exceeded or self.spend_usd >= self.threshold_usd


@dataclass(frozen=True)
class AlertNotice:
    """One alert event as evaluation and delivery report it: which budget, which level."""

    budget: str
    kind: AlertKind
    spend_usd: Decimal
    threshold_usd: Decimal
    fired_at: datetime
    level_pct: int | None = None

    @classmethod
    def of(cls, budget: Budget, event: AlertEvent) -> AlertNotice:
        return cls(
            budget.label,
            event.kind,
            event.spend_usd,
            event.threshold_usd,
            event.fired_at,
            event.level_pct,
        )

    def __str__(self) -> str:
        spend, threshold = money(self.spend_usd), money(self.threshold_usd)
        if self.kind is AlertKind.warning and self.level_pct is not None:
            return f"{self.budget}: warning at {self.level_pct}%, {spend} of {threshold}"
        return f"{self.budget}: {self.kind.value}, {spend} of {threshold}"


def kind_of(percent: int) -> AlertKind:
    """The kind of event a level fires: "exceeded" at 100%, "warning" below."""
    return AlertKind.exceeded if percent >= 100 else AlertKind.warning


def levels(budget: Budget) -> list[tuple[int, Decimal]]:
    """(percent, spend at which it fires) for each of the budget's levels, lowest first."""
    return [(percent, budget.threshold_usd * percent / 100) for percent in budget.levels]


def record_alerts(
    connection: Connection, budget: Budget, window: SpendWindow, spend: Decimal
) -> int:
    """Record the events due now that the window's spend is `spend`; how many were recorded
    (not yet notified; muted ones too)."""
    return len(record_due_alerts(connection, budget, window, spend))


def record_due_alerts(
    connection: Connection, budget: Budget, window: SpendWindow, spend: Decimal
) -> list[AlertEvent]:
    """`record_alerts`, returning the events it recorded. A budget with notifications off
    records its events as muted: no channel sends them, then or later (turning notifications
    on must not send what fired while they were off)."""
    recorded = []
    for percent, level in levels(budget):
        if spend < level or fired_in_window(connection, budget, percent, window):
            continue
        kind = kind_of(percent)
        event = AlertEvent(
            id=uuid.uuid4(),
            budget_id=budget.id,
            kind=kind,
            spend_usd=spend,
            threshold_usd=budget.threshold_usd,
            window_start=window.start,
            fired_at=window.end,
            notified=False,
            level_pct=percent,
            user_id=budget.user_id if budget.per_user else None,
            muted=budget.email_notification is False,
        )
        values = as_referenced(connection, EVENTS, {**asdict(event), "kind": kind.value})
        connection.execute(EVENTS.insert().values(**values))
        recorded.append(event)
    return recorded


def alerts_due(connection: Connection, budget: Budget, window: SpendWindow, spend: Decimal) -> int:
    """How many events an evaluation at `spend` would record now (read only): the levels held
    with no event for them in the window."""
    return sum(
        spend >= level and not fired_in_window(connection, budget, percent, window)
        for percent, level in levels(budget)
    )


def events_of_user(user_id: uuid.UUID) -> ColumnElement[bool]:
    """SQL condition on events joined to their budgets: the events of the budgets `user_id`
    owns, and those of per-user budgets that its own spend fired."""
    return or_(BUDGETS.c.user_id == user_id, EVENTS.c.user_id == user_id)


def fired_in_window(
    connection: Connection, budget: Budget, percent: int, window: SpendWindow
) -> bool:
    """Whether an event for this level fired for the budget's threshold within the window (for
    a per-user budget: for its user)."""
    query = select(EVENTS.c.id).where(
        EVENTS.c.budget_id == budget.id,
        EVENTS.c.kind == kind_of(percent).value,
        or_(EVENTS.c.level_pct == percent, EVENTS.c.level_pct.is_(None)),
        EVENTS.c.threshold_usd == budget.threshold_usd,
        EVENTS.c.fired_at >= window.start,
    )
    if budget.per_user:
        query = query.where(EVENTS.c.user_id == budget.user_id)
    return connection.execute(query.limit(1)).first() is not None
