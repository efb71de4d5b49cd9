"""Anomaly alerts to a real SMTP server and a real HTTP server on localhost, over the hand-made
series of tests/analytics/series.py: its four anomalies go out once, a failed channel keeps them
for the next run, an unconfigured channel counts them as sent."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select, update

from aa_notebooks.analytics import Analytics, connect
from aa_notebooks.budgets.alert_settings import AlertMailer
from aa_notebooks.budgets.anomaly_alerts import SENT, alert_anomalies
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.rollups.rebuild import rebuild_rollups
from aa_notebooks.db.schema import AgentExecution, table_of
from aa_notebooks.notify import SmtpSettings
from aa_notebooks.notify.webhook import Webhook, WebhookSettings
from tests.analytics import series
from tests.notify.http_server import http_server
from tests.notify.smtp_server import RefusingSome, smtp_server

EXECUTIONS = table_of(AgentExecution)

# The series' anomalies (test_anomalies.py): what each line of the alert says, in key order.
EXPECTED = [
    "2026-11-24 agent weekly: daily cost",
    "2026-11-25 agent beta: P95 latency",
    "2026-11-26 agent alpha: daily cost",
    "2026-11-27 agent gamma: failure rate",
]


@pytest.fixture
def analytics(db_url: str) -> Analytics:
    series.load(db_url)
    return connect(db_url, now=lambda: series.NOW)


def _window(analytics: Analytics):  # type: ignore[no-untyped-def]
    return analytics.window(start_date=series.START_DATE, end_date=series.END_DATE)


def _mailer(port: int) -> AlertMailer:
    settings = SmtpSettings(host="127.0.0.1", sender="kit@example.com", port=port, security="none")
    return AlertMailer(settings, ("ops@example.com",), retries=0, backoff=0)


def _hooks(*hooks: Webhook) -> WebhookSettings:
    return WebhookSettings(hooks, timeout=5, retries=0, backoff=0)


def test_each_anomaly_goes_out_once(analytics: Analytics) -> None:
    with smtp_server() as (port, inbox), http_server() as server:
        hooks = _hooks(Webhook(server.at("/json"), "json"), Webhook(server.at("/slack"), "slack"))
        first = alert_anomalies(analytics, _window(analytics), mailer=_mailer(port), webhooks=hooks)
        assert (first.found, first.emailed, first.posted, first.ok) == (4, 4, 4, True)
        [message] = inbox.messages
        assert message["Subject"] == "[aa-notebooks] 4 new anomalies in agent runs"
        body = message.get_content()
        lines = [line for line in body.splitlines() if line.startswith("2026-")]
        assert [line.split(" (")[0].rsplit(" ", 1)[0] for line in lines] == EXPECTED
        json_post, slack_post = server.received
        anomalies = json_post.json()["anomalies"]
        assert [(a["day"], a["group"], a["metric"]) for a in anomalies] == [
            ("2026-11-24", "weekly", "cost_usd"), ("2026-11-25", "beta", "p95_ms"),
            ("2026-11-26", "alpha", "cost_usd"), ("2026-11-27", "gamma", "failure_rate"),
        ]  # fmt: skip
        assert slack_post.json()["text"] == "4 new anomalies in agent runs"
        again = alert_anomalies(analytics, _window(analytics), mailer=_mailer(port), webhooks=hooks)
        assert (again.found, again.emailed, again.posted) == (4, 0, 0)
        assert len(inbox.messages) == 1 and len(server.received) == 2


def test_a_failed_channel_is_tried_again(analytics: Analytics) -> None:
    with http_server((500, {})) as failing:
        hooks = _hooks(Webhook(failing.at("/hook"), "json"))
        result = alert_anomalies(analytics, _window(analytics), webhooks=hooks)
        assert (result.posted, result.ok) == (0, False)
        assert result.errors[0].startswith("webhooks: ")
        retried = alert_anomalies(analytics, _window(analytics), webhooks=hooks)
        assert (retried.posted, retried.ok) == (4, True)  # the server answers 200 now
        assert len(failing.received) == 2


def test_a_refused_recipient_is_an_error_and_the_others_do_not_get_it_twice(
    analytics: Analytics,
) -> None:
    settings = SmtpSettings(host="127.0.0.1", sender="kit@example.com", port=0, security="none")
    with smtp_server(inbox=RefusingSome()) as (port, inbox):
        mailer = AlertMailer(
            replace(settings, port=port), ("ops@example.com", "bad@example.com"), 3, 0
        )
        first = alert_anomalies(analytics, _window(analytics), mailer=mailer, webhooks=_hooks())
        again = alert_anomalies(analytics, _window(analytics), mailer=mailer, webhooks=_hooks())
    assert inbox.envelopes == [["ops@example.com"]]
    assert (first.emailed, first.ok, again.emailed, again.ok) == (4, False, 0, True)
    assert first.errors == (
        f"email: the email went out via 127.0.0.1:{port}, but the server refused it for "
        "bad@example.com (550 5.1.1 No such user here); the other recipients have it. Check "
        "those addresses",
    )


def test_an_unconfigured_channel_counts_them_as_sent(
    analytics: Analytics, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AA_SMTP_HOST", "AA_SMTP_FROM", "AA_BUDGET_ALERT_EMAILS", "AA_ALERT_WEBHOOKS"):
        monkeypatch.delenv(name, raising=False)
    quiet = alert_anomalies(analytics, _window(analytics))
    assert (quiet.found, quiet.emailed, quiet.posted, quiet.ok) == (4, 0, 0, True)
    with http_server() as server:  # configured later: the old anomalies are not sent
        later = alert_anomalies(
            analytics, _window(analytics), webhooks=_hooks(Webhook(server.at("/h"), "json"))
        )
        assert later.posted == 0 and server.received == []


def test_an_agent_name_longer_than_the_key_column_goes_out_once(db_url: str) -> None:
    """The sent-anomalies key holds 600 characters and PostgreSQL enforces it: an agent named
    with 700 had the whole alert run fail. Its key now ends in a digest; it goes out once."""
    series.load(db_url)
    long = "alpha-" + "x" * 694
    engine = get_engine(db_url)
    with engine.begin() as connection:
        connection.execute(
            update(EXECUTIONS).where(EXECUTIONS.c.agent_name == "alpha").values(agent_name=long)
        )
    rebuild_rollups(engine)
    analytics = connect(db_url, now=lambda: series.NOW)
    with smtp_server() as (port, inbox):
        first = alert_anomalies(analytics, _window(analytics), mailer=_mailer(port))
        again = alert_anomalies(analytics, _window(analytics), mailer=_mailer(port))
    assert (first.found, first.emailed, first.ok) == (4, 4, True)
    assert (again.found, again.emailed, again.ok) == (4, 0, True)
    [message] = inbox.messages
    assert f"2026-11-26 agent {long}: daily cost" in message.get_content()
    with engine.connect() as connection:
        keys = connection.execute(select(SENT.c.key)).scalars().all()
    assert max(len(key) for key in keys) == 600
