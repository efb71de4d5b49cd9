"""The email for one budget alert: a plain-text part and an HTML part with inline CSS."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from email.message import EmailMessage
from html import escape

from aa_notebooks.budgets.alerts import AlertEvent, AlertKind
from aa_notebooks.budgets.model import Budget
from aa_notebooks.notify import build_message

BAR_COLOURS = {AlertKind.warning: "#d97706", AlertKind.exceeded: "#dc2626"}


def alert_message(
    budget: Budget, event: AlertEvent, *, sender: str, recipients: Sequence[str]
) -> EmailMessage:
    """The message telling that `budget` reached a level, as `event` recorded it."""
    percent = spend_percent(event)
    reached = reached_words(event)
    subject = (
        f"Budget {budget.label!r} {reached}: ${event.spend_usd:.2f} of ${event.threshold_usd:.2f}"
    )
    facts = alert_facts(budget, event)
    consequence = consequence_of(budget, event)
    text = "\n".join(
        [f"Budget {budget.label} {reached}.", "", *(f"{k}: {v}" for k, v in facts), "", consequence]
    )
    return build_message(
        subject=subject,
        sender=sender,
        recipients=recipients,
        text=text + "\n",
        html=_html(budget, event, reached, facts, consequence, percent),
    )


def spend_percent(event: AlertEvent) -> Decimal:
    """The spend as a percentage of the threshold."""
    return event.spend_usd * 100 / event.threshold_usd


def reached_words(event: AlertEvent) -> str:
    """What the budget did: "reached 50%" (the level the event is about; the spend's percent
    for an event recorded before levels) or "exceeded its threshold"."""
    if event.kind is AlertKind.exceeded:
        return "exceeded its threshold"
    if event.level_pct is not None:
        return f"reached {event.level_pct}%"
    return f"reached {spend_percent(event):.0f}%"


def alert_facts(budget: Budget, event: AlertEvent) -> list[tuple[str, str]]:
    """(label, value) lines every alert shows: spend, window, scope, alert type, budget id."""
    percent = spend_percent(event)
    scope = budget.scope.value + (f" {budget.target}" if budget.target else "")
    if budget.per_user:
        scope = f"each user separately (this alert: user {budget.user_id})"
    elif budget.user_id is not None:
        scope += f" (user {budget.user_id})"
    return [
        ("Spend", f"${event.spend_usd:.2f} ({percent:.1f}% of ${event.threshold_usd:.2f})"),
        ("Window", f"{event.window_start:%Y-%m-%d %H:%M} to {event.fired_at:%Y-%m-%d %H:%M} UTC "
                   f"(last {budget.period_days} days)"),
        ("Scope", scope),
        ("Alert type", budget.alert_type.value),
        ("Budget id", str(budget.id)),
    ]  # fmt: skip


def consequence_of(budget: Budget, event: AlertEvent) -> str:
    """What the alert means for the agents: refused, soon refused, or nothing."""
    if budget.hard_stop and event.threshold_reached and budget.per_user:
        return (
            f"This is a hard stop for each user: new executions of user {budget.user_id} are "
            "refused until their spend in the window falls below the threshold or the threshold "
            "is raised; other users are not affected."
        )
    if budget.hard_stop and event.threshold_reached:
        return (
            "This is a hard stop: new executions in this scope are refused until the spend in "
            "the window falls below the threshold or the threshold is raised."
        )
    if budget.hard_stop:
        return "This is a hard stop: executions will be refused once the threshold is reached."
    return "This is a warning budget: executions continue."


def _html(
    budget: Budget,
    event: AlertEvent,
    reached: str,
    facts: list[tuple[str, str]],
    consequence: str,
    percent: Decimal,
) -> str:
    width = min(float(percent), 100.0)
    colour = BAR_COLOURS[event.kind]
    rows = "".join(
        f'<tr><td style="padding:4px 12px 4px 0;color:#6b7280">{escape(k)}</td>'
        f'<td style="padding:4px 0">{escape(v)}</td></tr>'
        for k, v in facts
    )
    return (
        '<html><body style="font-family:Arial,Helvetica,sans-serif;color:#111827">'
        f'<h2 style="font-size:18px">Budget {escape(budget.label)} {escape(reached)}</h2>'
        '<table role="presentation" style="width:100%;max-width:480px;border-collapse:collapse;'
        'background:#e5e7eb;border-radius:4px"><tr>'
        f'<td style="width:{width:.1f}%;height:12px;background:{colour}"></td>'
        "<td></td></tr></table>"
        f'<table role="presentation" style="margin-top:12px;font-size:14px">{rows}</table>'
        f'<p style="font-size:14px">{escape(consequence)}</p>'
        "</body></html>"
    )
