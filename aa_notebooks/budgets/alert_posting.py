"""Post the alert events not yet posted to every webhook in AA_ALERT_WEBHOOKS, never raising.

Each event is claimed (webhook_notified set), then posted to each webhook in turn. It is
released for the next delivery to retry only when no webhook took it and a retry could help (a
connection error, a timeout, a 429 or 5xx after the in-call retries); once one webhook took it,
or a webhook refused it for good (another 4xx), it is not posted again, so a webhook that stays
down never makes the others receive the same alert twice. Each failure is one warning line
naming the webhook by scheme and host only.

With AA_ALERT_WEBHOOKS unset, the events are marked posted without sending (configuring a
webhook later does not replay old alerts); with it malformed, they wait and a warning says why.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine

from aa_notebooks.budgets.alert_claims import pending_events, set_sent
from aa_notebooks.budgets.alert_webhook import webhook_body
from aa_notebooks.budgets.alerts import AlertEvent, AlertNotice
from aa_notebooks.budgets.capabilities import Capabilities
from aa_notebooks.budgets.model import Budget
from aa_notebooks.errors import ConfigurationError
from aa_notebooks.notify.webhook import WebhookDeliveryError, WebhookSettings, post_json

log = logging.getLogger(__name__)
PostOutcome = Literal["posted", "retry", "dropped", "taken"]


@dataclass(frozen=True)
class Posting:
    """What one delivery did on the webhooks: posted to all, failed and retried later, failed
    for good (`dropped`), or left waiting because AA_ALERT_WEBHOOKS is malformed (`problem`)."""

    posted: tuple[AlertNotice, ...] = ()
    failed: tuple[AlertNotice, ...] = ()
    dropped: tuple[AlertNotice, ...] = ()
    unsent: tuple[AlertNotice, ...] = ()
    webhooks: tuple[str, ...] = ()
    problem: str | None = None


def post_pending(
    engine: Engine,
    caps: Capabilities,
    settings: WebhookSettings | None,
    owner: uuid.UUID | None,
) -> Posting:
    """Post the pending events to the webhooks (`settings` None: AA_ALERT_WEBHOOKS)."""
    problem = None
    if settings is None:
        try:
            settings = WebhookSettings.from_env()
        except ConfigurationError as exc:
            problem = str(exc).replace("\n", "; ")
    pending = pending_events(engine, caps, "webhooks", owner)
    if not pending:
        return Posting()
    if settings is None:
        unsent = tuple(AlertNotice.of(budget, event) for budget, event in pending)
        return Posting(unsent=unsent, problem=problem)
    if not settings.hooks:
        for _, event in pending:
            set_sent(engine, event, "webhooks", claimed=True)
        return Posting()
    outcomes: dict[PostOutcome, list[AlertNotice]] = {
        "posted": [], "retry": [], "dropped": [], "taken": [],
    }  # fmt: skip
    for budget, event in pending:
        outcome = _post_event(engine, settings, budget, event)
        outcomes[outcome].append(AlertNotice.of(budget, event))
    return Posting(
        posted=tuple(outcomes["posted"]),
        failed=tuple(outcomes["retry"]),
        dropped=tuple(outcomes["dropped"]),
        webhooks=tuple(str(hook) for hook in settings.hooks),
    )


def _post_event(
    engine: Engine, settings: WebhookSettings, budget: Budget, event: AlertEvent
) -> PostOutcome:
    """Claim one event and post it to every webhook; release it when a retry could help and no
    webhook took it."""
    if not set_sent(engine, event, "webhooks", claimed=True):
        return "taken"
    errors = []
    for hook in settings.hooks:
        try:
            post_json(hook, webhook_body(hook.body_format, budget, event), settings)
        except WebhookDeliveryError as exc:
            errors.append(exc)
            log.warning("budget alert %s not posted: %s", event.id, exc)
    if not errors:
        return "posted"
    if len(errors) == len(settings.hooks) and any(error.transient for error in errors):
        set_sent(engine, event, "webhooks", claimed=False)
        return "retry"
    return "dropped"
