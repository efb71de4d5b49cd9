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
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, select

from aa_notebooks.budgets.model import Budget
from aa_notebooks.budgets.window import Window
from aa_notebooks.db.schema import BudgetAlertEvent

EVENTS = BudgetAlertEvent.__table__


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


def levels(budget: Budget) -> list[tuple[AlertKind, Decimal]]:
    """The spend at which each kind of event fires."""
    found = [(AlertKind.exceeded, budget.threshold_usd)]
    if budget.alert_at_percentage < 100:
        found.insert(
            0, (AlertKind.warning, budget.threshold_usd * budget.alert_at_percentage / 100)
        )
    return found


def record_alerts(
    connection: Connection, budget: Budget, window: Window, spend: Decimal, added: Decimal
) -> int:
    """Record the events due now that spend is `spend` after a write that `added` to it.

    Evaluation passes added=0: it sees no crossing, only levels held without a recent event.
    Returns how many events were recorded (not yet notified).
    """
    recorded = 0
    for kind, level in levels(budget):
        if spend < level:
            continue
        if spend - added < level or not _fired_in_window(connection, budget, kind, window):
            connection.execute(
                EVENTS.insert().values(
                    id=uuid.uuid4(),
                    budget_id=budget.id,
                    kind=kind.value,
                    spend_usd=spend,
                    threshold_usd=budget.threshold_usd,
                    window_start=window.start,
                    fired_at=window.end,
                    notified=False,
                )
            )
            recorded += 1
    return recorded


def _fired_in_window(
    connection: Connection, budget: Budget, kind: AlertKind, window: Window
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
