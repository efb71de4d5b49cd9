"""Alert events: when a budget's spend reaches its alert percentage or its threshold.

A budget has two levels: warning at threshold * alert_at_percentage / 100 (none when that is
100) and exceeded at the threshold. An event of a kind is recorded when the spend is at or above
its level and either

- this write took the spend there from below (a crossing), or
- no event of that kind, for the budget's current threshold, fired within the current rolling
  window (fired_at >= now - period_days).

So a crossing records exactly one event; writes while the spend stays above record none; a new
event needs the spend to fall back below and cross again, or a whole period to pass with the
spend still above, or the threshold to change. The second rule also catches levels reached
without a crossing write (a lowered threshold, a budget created over its level).

Callers hold the budget's row lock (`load_budgets(lock=True)`, or SQLite's write lock), so two
writers never both see the same crossing.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, select

from aa_notebooks.budgets.model import Budget
from aa_notebooks.budgets.window import SpendWindow
from aa_notebooks.db.schema import BudgetAlertEvent, table_of
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


@dataclass(frozen=True)
class AlertNotice:
    """One alert event as evaluation and delivery report it: which budget, which level."""

    budget: str
    kind: AlertKind
    spend_usd: Decimal
    threshold_usd: Decimal
    fired_at: datetime

    @classmethod
    def of(cls, budget: Budget, event: AlertEvent) -> AlertNotice:
        return cls(budget.label, event.kind, event.spend_usd, event.threshold_usd, event.fired_at)

    def __str__(self) -> str:
        spend, threshold = money(self.spend_usd), money(self.threshold_usd)
        return f"{self.budget}: {self.kind.value}, {spend} of {threshold}"


def levels(budget: Budget) -> list[tuple[AlertKind, Decimal]]:
    """The spend at which each kind of event fires."""
    found = [(AlertKind.exceeded, budget.threshold_usd)]
    if budget.alert_at_percentage < 100:
        found.insert(
            0, (AlertKind.warning, budget.threshold_usd * budget.alert_at_percentage / 100)
        )
    return found


def record_alerts(
    connection: Connection, budget: Budget, window: SpendWindow, spend: Decimal, added: Decimal
) -> int:
    """Record the events due now that spend is `spend` after a write that `added` to it.

    Evaluation passes added=0: it sees no crossing, only levels held without a recent event.
    Returns how many events were recorded (not yet notified).
    """
    return len(record_due_alerts(connection, budget, window, spend, added))


def record_due_alerts(
    connection: Connection, budget: Budget, window: SpendWindow, spend: Decimal, added: Decimal
) -> list[AlertEvent]:
    """`record_alerts`, returning the events it recorded."""
    recorded = []
    for kind, level in levels(budget):
        if spend < level:
            continue
        if spend - added < level or not fired_in_window(connection, budget, kind, window):
            event = AlertEvent(
                id=uuid.uuid4(),
                budget_id=budget.id,
                kind=kind,
                spend_usd=spend,
                threshold_usd=budget.threshold_usd,
                window_start=window.start,
                fired_at=window.end,
                notified=False,
            )
            connection.execute(EVENTS.insert().values(**{**asdict(event), "kind": kind.value}))
            recorded.append(event)
    return recorded


def alerts_due(connection: Connection, budget: Budget, window: SpendWindow, spend: Decimal) -> int:
    """How many events an evaluation at `spend` would record now (read only): the levels held
    with no event of their kind in the window."""
    return sum(
        spend >= level and not fired_in_window(connection, budget, kind, window)
        for kind, level in levels(budget)
    )


def fired_in_window(
    connection: Connection, budget: Budget, kind: AlertKind, window: SpendWindow
) -> bool:
    """Whether an event of this kind fired for the budget's threshold within the window."""
    query = (
        select(EVENTS.c.id)
        .where(
            EVENTS.c.budget_id == budget.id,
            EVENTS.c.kind == kind.value,
            EVENTS.c.threshold_usd == budget.threshold_usd,
            EVENTS.c.fired_at >= window.start,
        )
        .limit(1)
    )
    return connection.execute(query).first() is not None
