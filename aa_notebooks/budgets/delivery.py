"""Email the alert events not yet notified, once each, never blocking a recording.

An event is sent when its budget has email_notification set and the email settings are complete
(`alert_settings`). Each event is first claimed (notified set to true where it was false), so
concurrent deliverers never send it twice; a failed send is logged and sets notified back to
false, so the next delivery (`budgets evaluate`, or the next recorded alert) retries it. A
process killed between claim and send loses that one email. Without email settings the events
wait, unsent, and a warning says so.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine, RowMapping, and_, select, update
from sqlalchemy.engine import URL

from aa_notebooks.budgets.alert_email import alert_message
from aa_notebooks.budgets.alert_settings import AlertMailer, email_problem, mask_address
from aa_notebooks.budgets.alerts import EVENTS, AlertEvent, AlertKind, AlertNotice
from aa_notebooks.budgets.capabilities import capabilities
from aa_notebooks.budgets.model import Budget
from aa_notebooks.budgets.scope import BUDGETS
from aa_notebooks.budgets.store import load_budgets
from aa_notebooks.budgets.transactions import write_transaction
from aa_notebooks.db.engine import get_engine
from aa_notebooks.notify import EmailDeliveryError, send_email

log = logging.getLogger(__name__)
Outcome = Literal["sent", "failed", "taken"]
AlertNotifier = Callable[[URL], object]
"""Called with the database URL after a commit recorded alert events; the recording paths
(`record_execution`, the tracker's writer) take one, and the default, `deliver_alerts`, emails
them. Pass your own to send elsewhere, or one that does nothing to leave them to
`budgets evaluate`."""


@dataclass(frozen=True)
class Delivery:
    """What one delivery did with the pending alerts: emailed (to the masked `recipients`),
    failed (retried later), or left unsent because email is not configured (`problem`)."""

    sent: tuple[AlertNotice, ...] = ()
    failed: tuple[AlertNotice, ...] = ()
    unsent: tuple[AlertNotice, ...] = ()
    recipients: tuple[str, ...] = ()
    problem: str | None = None


def deliver_alerts(url: str | URL | None = None, *, mailer: AlertMailer | None = None) -> int:
    """Email every pending alert event; returns how many were sent."""
    return deliver_pending(get_engine(url), mailer)


def deliver_pending(engine: Engine, mailer: AlertMailer | None) -> int:
    """`deliver_alerts` for an engine at hand; a warning is logged when email is not set up."""
    delivery = send_pending(engine, mailer)
    if delivery.problem:
        log.warning(
            "%d budget alert(s) not emailed: %s; they wait until `aa-notebooks budgets evaluate` "
            "runs with the email settings",
            len(delivery.unsent),
            delivery.problem,
        )
    return len(delivery.sent)


def send_pending(
    engine: Engine, mailer: AlertMailer | None, *, owner: uuid.UUID | None = None
) -> Delivery:
    """Email the pending alert events (of the budgets `owner` owns, when given); `mailer` None
    means the settings in the environment."""
    caps = capabilities(engine)
    if not caps.has_events:
        return Delivery()
    pending_query = (
        select(EVENTS)
        .join(BUDGETS, BUDGETS.c.id == EVENTS.c.budget_id)
        .where(EVENTS.c.notified.is_(False), BUDGETS.c.email_notification.is_not(False))
        .order_by(EVENTS.c.fired_at, EVENTS.c.kind.desc())
    )
    if owner is not None:
        pending_query = pending_query.where(BUDGETS.c.user_id == owner)
    with engine.connect() as connection:
        pending = [_event(row) for row in connection.execute(pending_query).mappings()]
        if not pending:
            return Delivery()
        ids = {event.budget_id for event in pending}
        budgets = {b.id: b for b in load_budgets(connection, caps, BUDGETS.c.id.in_(ids))}
    # An event whose budget was deleted meanwhile went with it (ON DELETE CASCADE).
    events = [(budgets[e.budget_id], e) for e in pending if e.budget_id in budgets]
    if mailer is None:
        if problem := email_problem():
            unsent = tuple(AlertNotice.of(budget, event) for budget, event in events)
            return Delivery(unsent=unsent, problem=problem)
        mailer = AlertMailer.from_env()
    outcomes: dict[Outcome, list[AlertNotice]] = {"sent": [], "failed": [], "taken": []}
    for budget, event in events:
        outcomes[_send(engine, mailer, budget, event)].append(AlertNotice.of(budget, event))
    recipients = tuple(mask_address(address) for address in mailer.recipients)
    return Delivery(tuple(outcomes["sent"]), tuple(outcomes["failed"]), recipients=recipients)


def _send(engine: Engine, mailer: AlertMailer, budget: Budget, event: AlertEvent) -> Outcome:
    """Claim, send, and on failure release one event; "taken" when another deliverer claimed
    it first."""
    message = alert_message(
        budget, event, sender=mailer.settings.sender, recipients=mailer.recipients
    )
    if not _set_notified(engine, event, claimed=True):
        return "taken"
    try:
        send_email(message, mailer.settings, retries=mailer.retries, backoff=mailer.backoff)
    except EmailDeliveryError as exc:
        log.warning("budget alert %s not emailed, will retry: %s", event.id, exc)
        _set_notified(engine, event, claimed=False)
        return "failed"
    return "sent"


def _set_notified(engine: Engine, event: AlertEvent, *, claimed: bool) -> bool:
    """Flip notified from `not claimed` to `claimed`; whether this call did it."""
    statement = (
        update(EVENTS)
        .where(and_(EVENTS.c.id == event.id, EVENTS.c.notified.is_(not claimed)))
        .values(notified=claimed)
    )
    with write_transaction(engine) as connection:
        return connection.execute(statement).rowcount == 1


def _event(row: Mapping[str, Any] | RowMapping) -> AlertEvent:
    return AlertEvent(**{**row, "kind": AlertKind(row["kind"])})
