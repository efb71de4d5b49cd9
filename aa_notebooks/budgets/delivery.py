"""Email the alert events not yet notified, once each, never blocking a recording.

An event is sent when its budget has email_notification set, SMTP is configured (AA_SMTP_*) and
AA_BUDGET_ALERT_EMAILS names recipients (comma-separated; the document has no recipient column).
Each event is first claimed (notified set to true where it was false), so concurrent deliverers
never send it twice; a failed send is logged and sets notified back to false, so the next
evaluation (`budget_status`) or delivery retries it. A process killed between claim and send
loses that one email.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, select, update
from sqlalchemy.engine import URL

from aa_notebooks.budgets.alert_email import alert_message
from aa_notebooks.budgets.alerts import EVENTS, AlertEvent, AlertKind
from aa_notebooks.budgets.capabilities import capabilities
from aa_notebooks.budgets.model import Budget
from aa_notebooks.budgets.scope import BUDGETS
from aa_notebooks.budgets.store import load_budgets
from aa_notebooks.budgets.transactions import write_transaction
from aa_notebooks.db.engine import get_engine
from aa_notebooks.errors import ConfigurationError
from aa_notebooks.notify import EmailDeliveryError, SmtpSettings, send_email

log = logging.getLogger(__name__)
RECIPIENTS_ENV = "AA_BUDGET_ALERT_EMAILS"


@dataclass(frozen=True)
class AlertMailer:
    """Where budget alerts are emailed and how hard sending is retried."""

    settings: SmtpSettings
    recipients: tuple[str, ...]
    retries: int = 3
    backoff: float = 0.5

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AlertMailer:
        """SMTP settings and recipients from the environment; ConfigurationError when unset."""
        env = os.environ if environ is None else environ
        recipients = tuple(a.strip() for a in env.get(RECIPIENTS_ENV, "").split(",") if a.strip())
        settings = SmtpSettings.from_env(env)
        if not recipients:
            raise ConfigurationError(
                f"no recipients for budget alerts: set {RECIPIENTS_ENV} to comma-separated "
                "email addresses"
            )
        return cls(settings, recipients)


def deliver_alerts(url: str | URL | None = None, *, mailer: AlertMailer | None = None) -> int:
    """Email every pending alert event; returns how many were sent."""
    return deliver_pending(get_engine(url), mailer)


def deliver_pending(engine: Engine, mailer: AlertMailer | None) -> int:
    """`deliver_alerts` for an engine at hand."""
    caps = capabilities(engine)
    if not caps.has_events:
        return 0
    pending_query = (
        select(EVENTS)
        .join(BUDGETS, BUDGETS.c.id == EVENTS.c.budget_id)
        .where(EVENTS.c.notified.is_(False), BUDGETS.c.email_notification.is_not(False))
        .order_by(EVENTS.c.fired_at)
    )
    with engine.connect() as connection:
        pending = [_event(row) for row in connection.execute(pending_query).mappings()]
        if not pending:
            return 0
        ids = {event.budget_id for event in pending}
        budgets = {b.id: b for b in load_budgets(connection, caps, BUDGETS.c.id.in_(ids))}
    if mailer is None:
        try:
            mailer = AlertMailer.from_env()
        except ConfigurationError as exc:
            log.info("%d budget alert(s) not emailed: %s", len(pending), exc)
            return 0
    # An event whose budget was deleted meanwhile went with it (ON DELETE CASCADE).
    return sum(
        _send(engine, mailer, budgets[e.budget_id], e) for e in pending if e.budget_id in budgets
    )


def _send(engine: Engine, mailer: AlertMailer, budget: Budget, event: AlertEvent) -> bool:
    """Claim, send, and on failure release one event; whether it was sent."""
    message = alert_message(
        budget, event, sender=mailer.settings.sender, recipients=mailer.recipients
    )
    if not _set_notified(engine, event, claimed=True):
        return False
    try:
        send_email(message, mailer.settings, retries=mailer.retries, backoff=mailer.backoff)
    except EmailDeliveryError as exc:
        log.warning("budget alert %s not emailed, will retry: %s", event.id, exc)
        _set_notified(engine, event, claimed=False)
        return False
    return True


def _set_notified(engine: Engine, event: AlertEvent, *, claimed: bool) -> bool:
    """Flip notified from `not claimed` to `claimed`; whether this call did it."""
    statement = (
        update(EVENTS)
        .where(and_(EVENTS.c.id == event.id, EVENTS.c.notified.is_(not claimed)))
        .values(notified=claimed)
    )
    with write_transaction(engine) as connection:
        return connection.execute(statement).rowcount == 1


def _event(row: Mapping[str, Any]) -> AlertEvent:
    return AlertEvent(**{**row, "kind": AlertKind(row["kind"])})
