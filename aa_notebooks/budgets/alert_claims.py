"""Which alert events a channel (email, webhooks) still owes, and claiming one before sending.

Each channel keeps its own flag on the event (`notified` for email, `webhook_notified` for
webhooks), so one channel failing never holds back or repeats the other. Claiming flips the
flag from false to true in its own transaction: of two concurrent deliverers only one wins, and
a failed send flips it back so the next delivery retries.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import fields
from typing import Any, Literal

from sqlalchemy import ColumnElement, Engine, RowMapping, and_, select, update

from aa_notebooks.budgets.alerts import EVENTS, AlertEvent, AlertKind, events_of_user
from aa_notebooks.budgets.capabilities import Capabilities
from aa_notebooks.budgets.model import Budget
from aa_notebooks.budgets.scope import BUDGETS
from aa_notebooks.budgets.store import ACTIVE, load_budgets
from aa_notebooks.budgets.transactions import write_transaction

Channel = Literal["email", "webhooks"]
FLAG = {"email": EVENTS.c.notified, "webhooks": EVENTS.c.webhook_notified}
EVENT_FIELDS = tuple(f.name for f in fields(AlertEvent))


def pending_events(
    engine: Engine, caps: Capabilities, channel: Channel, owner: uuid.UUID | None
) -> list[tuple[Budget, AlertEvent]]:
    """The events `channel` has not sent yet, oldest first, with their budgets (active ones with
    notifications on: a budget switched off sends nothing more; of `owner`'s budgets when
    given)."""
    query = (
        select(EVENTS)
        .join(BUDGETS, BUDGETS.c.id == EVENTS.c.budget_id)
        .where(owed(channel))
        .order_by(EVENTS.c.fired_at, EVENTS.c.kind.desc())
    )
    if owner is not None:
        query = query.where(events_of_user(owner))
    with engine.connect() as connection:
        pending = [_event(row) for row in connection.execute(query).mappings()]
        if not pending:
            return []
        ids = {event.budget_id for event in pending}
        budgets = {b.id: b for b in load_budgets(connection, caps, BUDGETS.c.id.in_(ids))}
    # An event whose budget was deleted meanwhile went with it (ON DELETE CASCADE).
    return [(_applied(budgets[e.budget_id], e), e) for e in pending if e.budget_id in budgets]


def owed(channel: Channel) -> ColumnElement[bool]:
    """Events (joined to their budgets) that `channel` has not sent and still owes: of active
    budgets with notifications on. What a delivery sends, and what a status counts as due."""
    return and_(
        FLAG[channel].is_(False),
        EVENTS.c.muted.is_not(True),
        BUDGETS.c.email_notification.is_not(False),
        ACTIVE,
    )


def _applied(budget: Budget, event: AlertEvent) -> Budget:
    """The budget an event is about: a per-user budget as it applies to the event's user."""
    return budget.for_user(event.user_id) if budget.template and event.user_id else budget


def set_sent(engine: Engine, event: AlertEvent, channel: Channel, *, claimed: bool) -> bool:
    """Flip the channel's flag from `not claimed` to `claimed`; whether this call did it."""
    flag = FLAG[channel]
    statement = (
        update(EVENTS)
        .where(and_(EVENTS.c.id == event.id, flag.is_(not claimed)))
        .values({flag.name: claimed})
    )
    with write_transaction(engine) as connection:
        return connection.execute(statement).rowcount == 1


def _event(row: Mapping[str, Any] | RowMapping) -> AlertEvent:
    values = {name: row[name] for name in EVENT_FIELDS}
    return AlertEvent(**{**values, "kind": AlertKind(row["kind"])})
