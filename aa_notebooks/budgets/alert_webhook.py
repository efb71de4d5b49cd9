"""The webhook bodies for one budget alert: Slack-compatible, or the kit's generic JSON.

Both tell the same facts as the alert email. The generic body is a stable contract (its
`version` changes only when a field changes meaning or goes away); money is a decimal string
with six places, as in the kit's HTTP API, and times are ISO 8601 in UTC.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from aa_notebooks.budgets.alert_email import (
    alert_facts,
    consequence_of,
    reached_words,
    spend_percent,
)
from aa_notebooks.budgets.alerts import AlertEvent, AlertKind
from aa_notebooks.budgets.model import Budget
from aa_notebooks.notify.webhook import BodyFormat

JSON_BODY_VERSION = 1
MICRO_USD = Decimal("0.000001")
SLACK_HEADER_LIMIT = 150  # characters Slack allows in a header block
SLACK_FIELD_LIMIT = 2000  # characters Slack allows in a section field


def webhook_body(body_format: BodyFormat, budget: Budget, event: AlertEvent) -> dict[str, Any]:
    """The body a webhook of `body_format` is sent for this alert."""
    if body_format == "json":
        return json_body(budget, event)
    return slack_body(budget, event)


def summary(budget: Budget, event: AlertEvent) -> str:
    """One line: "Budget org reached 85%: $8.50 of $10.00"."""
    return (
        f"Budget {budget.label} {reached_words(event)}: "
        f"${event.spend_usd:.2f} of ${event.threshold_usd:.2f}"
    )


def slack_body(budget: Budget, event: AlertEvent) -> dict[str, Any]:
    """Slack's incoming-webhook body: `text` (notifications, old clients) and `blocks`.

    Names come from users and agents: `&`, `<` and `>` are escaped, as Slack asks, so a budget
    named `<!channel>` cannot ping anyone or make a link.
    """
    header = _clip(f"Budget {budget.label} {reached_words(event)}", SLACK_HEADER_LIMIT)
    fields = [
        {"type": "mrkdwn", "text": _clip(f"*{label}*\n{_slack_escape(value)}", SLACK_FIELD_LIMIT)}
        for label, value in alert_facts(budget, event)
    ]
    return {
        "text": _slack_escape(summary(budget, event)),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": header}},
            {"type": "section", "fields": fields},
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": consequence_of(budget, event)}],
            },
        ],
    }


def json_body(budget: Budget, event: AlertEvent) -> dict[str, Any]:
    """The generic body (documented in the README's alerts section)."""
    exceeded = event.kind is AlertKind.exceeded
    return {
        "event": "budget_alert",
        "version": JSON_BODY_VERSION,
        "alert_id": str(event.id),
        "level": event.kind.value,
        "summary": summary(budget, event),
        "budget": {
            "id": str(budget.id),
            "name": budget.name,
            "scope": budget.scope.value,
            "target": budget.target,
            "user_id": None if budget.user_id is None else str(budget.user_id),
            "per_user": budget.per_user,
            "alert_type": budget.alert_type.value,
            "alert_at_percentage": budget.alert_at_percentage,
            "alert_levels": list(budget.levels),
            "period_days": budget.period_days,
        },
        "threshold_percent": 100 if exceeded else event.level_pct or budget.alert_at_percentage,
        "spend_usd": _money(event.spend_usd),
        "limit_usd": _money(event.threshold_usd),
        "spend_percent": f"{spend_percent(event):.1f}",
        "window": {"start": _time(event.window_start), "end": _time(event.fired_at)},
        "fired_at": _time(event.fired_at),
        "executions_refused": budget.hard_stop and event.threshold_reached,
    }


def _money(value: Decimal) -> str:
    return str(value.quantize(MICRO_USD))


def _time(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _slack_escape(text: str) -> str:
    """Text as Slack's mrkdwn shows it literally (its three control characters escaped)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
