"""Anomaly alerts: the anomalies of the last days, emailed and posted to the webhooks, each once.

`alert_anomalies` finds the anomalies of a recent window (`Analytics.anomalies`), keeps the ones
not yet sent on each channel (the kit's `anomalyalertssent` table, keyed by "by|group|metric|day"),
and sends them in one email (to AA_BUDGET_ALERT_EMAILS through AA_SMTP_*) and one post per webhook
(AA_ALERT_WEBHOOKS, a Slack-compatible or generic JSON body). A channel that is not configured
counts its anomalies as sent, so that configuring it later does not send old ones; a channel
that fails keeps them, and the next run tries again. Run it from a schedule (hourly is fine).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import select, update

from aa_notebooks.analytics import Analytics, Window
from aa_notebooks.analytics.choices import AnomalyBy
from aa_notebooks.budgets.alert_settings import AlertMailer, email_problem
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import ANOMALY_KEY_LENGTH, AnomalyAlertSent, table_of
from aa_notebooks.errors import AnalyticsError
from aa_notebooks.notify import EmailDeliveryError, build_message, send_email
from aa_notebooks.notify.webhook import WebhookSettings, post_json

SENT = table_of(AnomalyAlertSent)
METRIC_WORDS = {"cost_usd": "daily cost", "p95_ms": "P95 latency", "failure_rate": "failure rate"}


@dataclass(frozen=True)
class AnomalyAlerts:
    """What one run did: anomalies found, newly emailed and posted, and the failures."""

    found: int
    emailed: int
    posted: int
    errors: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """Whether every channel that had something to send sent it."""
        return not self.errors

    def __str__(self) -> str:
        lines = [
            f"{self.found} anomalies found; {self.emailed} newly emailed, {self.posted} newly "
            "posted to webhooks"
        ]
        return "\n".join(lines + [f"error: {error}" for error in self.errors])


def anomaly_key(row: dict[str, Any]) -> str:
    """The identity of an anomaly: which grouping, which group, which metric, which day; one
    longer than the column holds (an agent name is any length) ends in its SHA-256 instead."""
    key = f"{row['by']}|{row['group']}|{row['metric']}|{row['day']:%Y-%m-%d}"
    if len(key) <= ANOMALY_KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[: ANOMALY_KEY_LENGTH - len(digest) - 1]}#{digest}"


def describe(row: dict[str, Any]) -> str:
    """One line: "2026-11-26 agent alpha: daily cost 4.20 (usual 1.00), up"."""
    value, usual = row["value"], row["baseline_median"]
    return (
        f"{row['day']:%Y-%m-%d} {row['by']} {row['group']}: {METRIC_WORDS[row['metric']]} "
        f"{value:,.4g} (usual {usual:,.4g}), {row['direction']}"
    )


def alert_anomalies(
    analytics: Analytics,
    window: Window | str = "2d",
    *,
    by: AnomalyBy = "agent",
    mailer: AlertMailer | None = None,
    webhooks: WebhookSettings | None = None,
) -> AnomalyAlerts:
    """Send the anomalies of `window` (default: the last two days) not yet sent (see the module
    docstring); `mailer` and `webhooks` default to the environment's settings."""
    frame: pd.DataFrame = analytics.anomalies(window, by=by).frame
    rows = {anomaly_key(row): row for row in frame.to_dict("records")}
    if mailer is None and email_problem() is None:
        mailer = AlertMailer.from_env()
    hooks = webhooks if webhooks is not None else WebhookSettings.from_env()
    engine = get_engine(analytics.url)
    if not rows:
        return AnomalyAlerts(0, 0, 0)
    with engine.begin() as connection:
        known = {r.key for r in connection.execute(select(SENT.c.key).where(SENT.c.key.in_(rows)))}
        fresh = [{"key": k, "day": r["day"].to_pydatetime(), "found_at": analytics.now()}
                 for k, r in rows.items() if k not in known]  # fmt: skip
        if fresh:
            connection.execute(SENT.insert(), fresh)
        pending = {
            channel: [r.key for r in connection.execute(select(SENT.c.key).where(
                SENT.c.key.in_(rows), column.is_(False)))]
            for channel, column in (("email", SENT.c.emailed), ("webhooks", SENT.c.posted))
        }  # fmt: skip
    errors: list[str] = []
    emailed = _send("email", pending["email"], rows, engine, errors, mailer, hooks)
    posted = _send("webhooks", pending["webhooks"], rows, engine, errors, mailer, hooks)
    return AnomalyAlerts(len(rows), emailed, posted, tuple(errors))


def _send(
    channel: str,
    keys: list[str],
    rows: dict[str, dict[str, Any]],
    engine: Any,
    errors: list[str],
    mailer: AlertMailer | None,
    hooks: WebhookSettings,
) -> int:
    """Send `keys` on one channel and mark them; an unconfigured channel only marks them."""
    if not keys:
        return 0
    keys = sorted(keys, key=lambda key: (rows[key]["day"], key))  # by day, then group
    lines = [describe(rows[key]) for key in keys]
    title = f"{len(lines)} new anomal{'y' if len(lines) == 1 else 'ies'} in agent runs"
    sent = 0
    try:
        if channel == "email" and mailer is not None:
            message = build_message(
                subject=f"[aa-notebooks] {title}",
                sender=mailer.settings.sender,
                recipients=mailer.recipients,
                text="\n".join([title + ":", "", *lines]),
            )
            try:
                send_email(message, mailer.settings, retries=mailer.retries, backoff=mailer.backoff)
            except EmailDeliveryError as exc:
                if not exc.partly_delivered:
                    raise
                errors.append(f"{channel}: {exc}")  # the others have it: not sent again
            sent = len(keys)
        elif channel == "webhooks":
            for hook in hooks.hooks:
                post_json(hook, _body(hook.body_format, title, lines, keys, rows), hooks)
            sent = len(keys) if hooks.hooks else 0
    except AnalyticsError as exc:  # EmailDeliveryError, WebhookDeliveryError: kept for retry
        errors.append(f"{channel}: {exc}")
        return 0
    column = SENT.c.emailed if channel == "email" else SENT.c.posted
    with engine.begin() as connection:
        connection.execute(update(SENT).where(SENT.c.key.in_(keys)).values({column: True}))
    return sent


def _body(
    body_format: str, title: str, lines: list[str], keys: list[str], rows: dict[str, Any]
) -> dict[str, Any]:
    """Slack: a text and a section; generic JSON: the anomalies as fields."""
    if body_format == "json":
        return {
            "version": 1,
            "kind": "anomalies",
            "anomalies": [_fields(rows[key]) for key in keys],
        }
    text = "\n".join(f"• {line}" for line in lines)
    return {
        "text": title,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}],
    }


def _fields(row: dict[str, Any]) -> dict[str, Any]:
    day: datetime = row["day"]
    return {
        "day": day.strftime("%Y-%m-%d"),
        "by": row["by"],
        "group": row["group"],
        "metric": row["metric"],
        "value": float(row["value"]),
        "baseline_median": float(row["baseline_median"]),
        "direction": row["direction"],
    }
