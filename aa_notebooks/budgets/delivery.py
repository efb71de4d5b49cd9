"""Deliver the alert events not yet sent, by email and to webhooks, never blocking a recording.

An event is emailed when its budget has email_notification set and the email settings are
complete (`alert_settings`); the same events are posted to AA_ALERT_WEBHOOKS (`alert_posting`),
each channel tracked on its own, so one failing never stops or repeats the other. Each event is
first claimed (notified set to true where it was false), so concurrent deliverers never send it
twice; a failed send is logged and sets notified back to false, so the next delivery
(`budgets evaluate`, or the next recorded alert) retries it, and the events after it are left
for that next delivery too: a mail server that is down or silent costs one wait, not one each.
A message the server refuses for its content alone does not hold the others back.
A process killed between claim and send loses that one email. Without email settings the events
wait, unemailed, and a warning says so.
"""

from __future__ import annotations

import atexit
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

from sqlalchemy import Engine
from sqlalchemy.engine import URL

from aa_notebooks.budgets.alert_claims import pending_events, set_sent
from aa_notebooks.budgets.alert_email import alert_message
from aa_notebooks.budgets.alert_posting import Posting, post_pending
from aa_notebooks.budgets.alert_settings import AlertMailer, email_problem, mask_address
from aa_notebooks.budgets.alerts import AlertEvent, AlertNotice
from aa_notebooks.budgets.capabilities import Capabilities, capabilities
from aa_notebooks.budgets.model import Budget
from aa_notebooks.db.engine import get_engine
from aa_notebooks.notify import EmailDeliveryError, send_email
from aa_notebooks.notify.webhook import WebhookSettings

log = logging.getLogger(__name__)
Outcome = Literal["sent", "failed", "refused", "taken"]
"""What became of one alert email: "refused" is a failure of that message only (its content),
after which the next alerts are still tried; after "failed" (the server) they wait."""
AlertNotifier = Callable[[URL], object]
"""Called with the database URL after a commit recorded alert events; the recording paths take
one, and default to `deliver_in_background`: a mail server that is down or silent must hold up
neither the agent nor the tracker's writer. It emails the events and posts them to the
webhooks. Pass your own to send elsewhere, or one that does nothing to leave them to
`budgets evaluate`."""


@dataclass(frozen=True)
class Delivery:
    """What one delivery did with the pending alerts: emailed (to the masked `recipients`),
    failed (retried later), or left unsent because email is not configured (`problem`); and
    what it did on the webhooks (`webhooks`). `refused` says which recipients the server
    refused an emailed alert for (the others have it, so it is not sent again)."""

    sent: tuple[AlertNotice, ...] = ()
    failed: tuple[AlertNotice, ...] = ()
    unsent: tuple[AlertNotice, ...] = ()
    recipients: tuple[str, ...] = ()
    problem: str | None = None
    webhooks: Posting = field(default_factory=Posting)
    refused: str | None = None


def deliver_alerts(
    url: str | URL | None = None,
    *,
    mailer: AlertMailer | None = None,
    webhooks: WebhookSettings | None = None,
) -> int:
    """Email every pending alert event and post it to the webhooks; returns how many were
    emailed."""
    return deliver_pending(get_engine(url), mailer, webhooks)


class _Background:
    """One daemon thread that delivers alerts after a recording committed them, so a slow
    SMTP server or webhook (retries, Retry-After) never holds up the agent or its event loop.
    Requests for the same database while one waits are merged; at exit it gets a few seconds
    to finish, and what it could not send waits for the next delivery (`budgets evaluate`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, URL] = {}
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None

    def request(self, url: URL) -> None:
        with self._lock:
            self._waiting[url.render_as_string(hide_password=False)] = url
            self._idle.clear()
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(
                target=self._loop, name="aa-notebooks-alerts", daemon=True
            )
            try:
                self._thread.start()
                return
            except RuntimeError:  # at interpreter exit, Python 3.12.0-3.12.1 start no thread
                self._thread = None
        self._loop()  # then deliver here, as the caller's thread

    def wait(self, timeout: float | None = None) -> bool:
        return self._idle.wait(timeout)

    def _loop(self) -> None:
        while True:
            with self._lock:
                if not self._waiting:
                    self._idle.set()
                    self._thread = None
                    return
                _, url = self._waiting.popitem()
            try:
                deliver_pending(get_engine(url), None)
            except Exception as error:  # never let one database's failure stop the others
                log.warning("budget alerts not delivered now (%s); `budgets evaluate` sends them",
                            error)  # fmt: skip


BACKGROUND_EXIT_WAIT_S = 10.0
_background = _Background()
atexit.register(lambda: _background.wait(BACKGROUND_EXIT_WAIT_S))


def deliver_in_background(url: URL) -> None:
    """`AlertNotifier` that delivers the pending alerts from a background thread and returns at
    once: the default of the recording paths."""
    _background.request(url)


def wait_for_deliveries(timeout: float | None = None) -> bool:
    """Block until background deliveries are done (False when `timeout` ran out first)."""
    return _background.wait(timeout)


def deliver_pending(
    engine: Engine, mailer: AlertMailer | None, webhooks: WebhookSettings | None = None
) -> int:
    """`deliver_alerts` for an engine at hand; a warning is logged when email or the webhooks
    are not set up."""
    delivery = send_pending(engine, mailer, webhooks=webhooks)
    if delivery.problem:
        log.warning(
            "%d budget alert(s) not emailed: %s; they wait until `aa-notebooks budgets evaluate` "
            "runs with the email settings",
            len(delivery.unsent),
            delivery.problem,
        )
    if delivery.webhooks.problem:
        log.warning(
            "%d budget alert(s) not posted to webhooks: %s",
            len(delivery.webhooks.unsent),
            delivery.webhooks.problem,
        )
    return len(delivery.sent)


def send_pending(
    engine: Engine,
    mailer: AlertMailer | None,
    *,
    owner: uuid.UUID | None = None,
    webhooks: WebhookSettings | None = None,
) -> Delivery:
    """Email the pending alert events (of the budgets `owner` owns, when given) and post them to
    the webhooks; `mailer` and `webhooks` None mean the settings in the environment."""
    caps = capabilities(engine)
    if not caps.has_events:
        return Delivery()
    emailed = _email_pending(engine, caps, mailer, owner)
    posting = post_pending(engine, caps, webhooks, owner)
    return replace(emailed, webhooks=posting)


def _email_pending(
    engine: Engine, caps: Capabilities, mailer: AlertMailer | None, owner: uuid.UUID | None
) -> Delivery:
    """The email part of `send_pending`."""
    events = pending_events(engine, caps, "email", owner)
    if not events:
        return Delivery()
    if mailer is None:
        if problem := email_problem():
            unsent = tuple(AlertNotice.of(budget, event) for budget, event in events)
            return Delivery(unsent=unsent, problem=problem)
        mailer = AlertMailer.from_env()
    outcomes: dict[Outcome, list[AlertNotice]] = {"sent": [], "failed": [], "taken": []}
    refused: set[str] = set()
    for position, (budget, event) in enumerate(events):
        outcome, refused_for = _send(engine, mailer, budget, event)
        refused.update(refused_for)
        outcomes["failed" if outcome == "refused" else outcome].append(
            AlertNotice.of(budget, event)
        )
        if outcome == "failed" and (rest := events[position + 1 :]):
            # the same server and recipients: each would wait out the same failure
            outcomes["failed"] += [AlertNotice.of(budget, event) for budget, event in rest]
            log.warning(
                "%d more budget alert(s) not tried now, as the mail server failed on the one "
                "before; they are retried at the next delivery",
                len(rest),
            )
            break
    recipients = tuple(mask_address(address) for address in mailer.recipients)
    return Delivery(
        tuple(outcomes["sent"]),
        tuple(outcomes["failed"]),
        recipients=recipients,
        refused=", ".join(mask_address(address) for address in sorted(refused)) or None,
    )


def _send(
    engine: Engine, mailer: AlertMailer, budget: Budget, event: AlertEvent
) -> tuple[Outcome, tuple[str, ...]]:
    """Claim, send, and on failure release one event; "taken" when another deliverer claimed
    it first. With it, the recipients the server refused it for while taking it for the others
    (it counts as sent: sending it again would reach those twice)."""
    message = alert_message(
        budget, event, sender=mailer.settings.sender, recipients=mailer.recipients
    )
    if not set_sent(engine, event, "email", claimed=True):
        return "taken", ()
    try:
        send_email(message, mailer.settings, retries=mailer.retries, backoff=mailer.backoff)
    except EmailDeliveryError as exc:
        if exc.partly_delivered:
            log.warning("budget alert %s: %s", event.id, exc)
            return "sent", exc.refused_recipients
        log.warning("budget alert %s not emailed, will retry: %s", event.id, exc)
        set_sent(engine, event, "email", claimed=False)
        return ("refused" if exc.message_refused else "failed"), ()
    return "sent", ()
