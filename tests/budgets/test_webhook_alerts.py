"""Budget alerts posted to webhooks (AA_ALERT_WEBHOOKS) on a real HTTP server on localhost:
the exact Slack and generic bodies of a hand-made crossing, once per window, retries, and
email and webhooks failing apart from each other."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from aa_notebooks.budgets import (
    AlertMailer,
    create_budget,
    deliver_alerts,
    evaluate_budgets,
    record_execution,
    wait_for_deliveries,
)
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.records import AgentExecutionCreate
from aa_notebooks.db.schema import BudgetAlertEvent
from aa_notebooks.notify import SmtpSettings
from aa_notebooks.notify.webhook import WebhookSettings, parse_webhooks
from aa_notebooks.tracking import Tracker
from tests.budgets.conftest import ALICE, NOW, record
from tests.notify.http_server import Hook, http_server
from tests.notify.smtp_server import Inbox, free_port

SLACK_PATH = "/services/T0001/B0002/s3cr3tT0ken"
JSON_PATH = "/alerts/budget?key=s3cr3t"
EVENTS = BudgetAlertEvent.__table__


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hook]:
    """A real HTTP server with AA_ALERT_WEBHOOKS set to a Slack hook and a generic JSON hook on
    it."""
    with http_server() as server:
        monkeypatch.setenv(
            "AA_ALERT_WEBHOOKS", f"{server.at(SLACK_PATH)}, json:{server.at(JSON_PATH)}"
        )
        yield server


def states(url: str) -> list[tuple[str, bool, bool]]:
    """(kind, emailed, posted) of each alert event, oldest first."""
    query = select(EVENTS.c.kind, EVENTS.c.notified, EVENTS.c.webhook_notified).order_by(
        EVENTS.c.fired_at, EVENTS.c.kind.desc()
    )
    with get_engine(url).connect() as connection:
        return [(kind, bool(e), bool(p)) for kind, e, p in connection.execute(query)]


def event_ids(url: str) -> list[str]:
    query = select(EVENTS.c.id).order_by(EVENTS.c.fired_at, EVENTS.c.kind.desc())
    with get_engine(url).connect() as connection:
        return [str(uuid.UUID(str(value))) for value in connection.execute(query).scalars()]


def record_quietly(url: str, cost: str, minutes: int) -> None:
    """Record an execution at NOW + minutes, leaving its alerts undelivered."""
    execution = AgentExecutionCreate(
        status="success", cost_usd=Decimal(cost), started_at=NOW + timedelta(minutes=minutes)
    )
    record_execution(url, execution, now=NOW + timedelta(minutes=minutes), on_alerts=lambda _: None)


def fast(url: str) -> WebhookSettings:
    """The settings for `url` with a short backoff."""
    return WebhookSettings(parse_webhooks(url), backoff=0.01)


def test_a_crossing_posts_the_slack_and_the_generic_body(db_url: str, webhook: Hook) -> None:
    budget = create_budget(db_url, name="org", threshold_usd=10, alert_at_percentage=80,
                           alert_type="hard_stop")  # fmt: skip
    record(db_url, "8", NOW)  # $8 of $10: crosses 80%
    [warning_id] = event_ids(db_url)
    assert [(r.path, r.headers["content-type"]) for r in webhook.received] == [
        (SLACK_PATH, "application/json; charset=utf-8"),
        (JSON_PATH, "application/json; charset=utf-8"),
    ]
    slack, generic = (r.json() for r in webhook.received)
    assert slack == {
        "text": "Budget org reached 80%: $8.00 of $10.00",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Budget org reached 80%"}},
            {"type": "section", "fields": [
                {"type": "mrkdwn", "text": "*Spend*\n$8.00 (80.0% of $10.00)"},
                {"type": "mrkdwn",
                 "text": "*Window*\n2024-05-02 12:30 to 2024-06-01 12:30 UTC (last 30 days)"},
                {"type": "mrkdwn", "text": "*Scope*\nglobal"},
                {"type": "mrkdwn", "text": "*Alert type*\nhard_stop"},
                {"type": "mrkdwn", "text": f"*Budget id*\n{budget.id}"},
            ]},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": (
                "This is a hard stop: executions will be refused once the threshold is reached."
            )}]},
        ],
    }  # fmt: skip
    assert generic == {
        "event": "budget_alert",
        "version": 1,
        "alert_id": warning_id,
        "level": "warning",
        "summary": "Budget org reached 80%: $8.00 of $10.00",
        "budget": {"id": str(budget.id), "name": "org", "scope": "global", "target": None,
                   "user_id": None, "per_user": False, "alert_type": "hard_stop",
                   "alert_at_percentage": 80,
                   "alert_levels": [80, 100], "period_days": 30},
        "threshold_percent": 80,
        "spend_usd": "8.000000",
        "limit_usd": "10.000000",
        "spend_percent": "80.0",
        "window": {"start": "2024-05-02T12:30:00Z", "end": "2024-06-01T12:30:00Z"},
        "fired_at": "2024-06-01T12:30:00Z",
        "executions_refused": False,
    }  # fmt: skip
    record(db_url, "3.25", NOW + timedelta(minutes=5))  # $11.25: crosses 100%
    assert len(webhook.received) == 4
    slack, generic = (r.json() for r in webhook.received[2:])
    assert slack["text"] == "Budget org exceeded its threshold: $11.25 of $10.00"
    assert slack["blocks"][1]["fields"][0]["text"] == "*Spend*\n$11.25 (112.5% of $10.00)"
    assert slack["blocks"][2]["elements"][0]["text"].startswith(
        "This is a hard stop: new executions in this scope are refused"
    )
    assert {k: generic[k] for k in ("level", "threshold_percent", "spend_usd", "spend_percent",
                                    "fired_at", "executions_refused")} == {
        "level": "exceeded", "threshold_percent": 100, "spend_usd": "11.250000",
        "spend_percent": "112.5", "fired_at": "2024-06-01T12:35:00Z", "executions_refused": True,
    }  # fmt: skip
    assert states(db_url) == [("warning", False, True), ("exceeded", False, True)]


def test_a_warning_that_fires_past_a_hard_stop_says_runs_are_refused(
    db_url: str, webhook: Hook
) -> None:
    """One $6 run crosses both 80% and the $5 threshold of a hard stop: the warning's payload
    said executions_refused false and "will be refused once the threshold is reached"."""
    create_budget(db_url, name="org", threshold_usd=5, alert_at_percentage=80,
                  alert_type="hard_stop")  # fmt: skip
    record(db_url, "6", NOW)
    bodies = [(r.path, r.json()) for r in webhook.received]
    generic = [body for path, body in bodies if path == JSON_PATH]
    slack = [body for path, body in bodies if path == SLACK_PATH]
    assert [(b["level"], b["executions_refused"]) for b in generic] == [
        ("warning", True), ("exceeded", True),
    ]  # fmt: skip
    refused = "This is a hard stop: new executions in this scope are refused"
    assert [b["blocks"][2]["elements"][0]["text"].startswith(refused) for b in slack] == [
        True, True,
    ]  # fmt: skip


def test_names_cannot_ping_or_link_in_slack(db_url: str, webhook: Hook) -> None:
    create_budget(db_url, name="<!channel> & <https://evil.example|x>", threshold_usd=1,
                  alert_type="warning", alert_at_percentage=100)  # fmt: skip
    record(db_url, "2", NOW)
    slack, generic = (r.json() for r in webhook.received)
    assert slack["text"] == (
        "Budget &lt;!channel&gt; &amp; &lt;https://evil.example|x&gt; exceeded its threshold: "
        "$2.00 of $1.00"
    )
    assert slack["blocks"][0]["text"] == {  # plain text: shown as written
        "type": "plain_text",
        "text": "Budget <!channel> & <https://evil.example|x> exceeded its threshold",
    }
    assert generic["budget"]["name"] == "<!channel> & <https://evil.example|x>"


def test_an_alert_is_posted_once_per_window(db_url: str, webhook: Hook) -> None:
    create_budget(db_url, name="org", threshold_usd=10, alert_type="warning")
    record(db_url, "8", NOW)  # warning
    record(db_url, "0.5", NOW + timedelta(minutes=1))  # $8.50: still above 80%, below 100%
    evaluate_budgets(db_url, now=NOW + timedelta(minutes=2))
    evaluate_budgets(db_url, now=NOW + timedelta(days=1))  # the same 30-day window
    assert [(r.path, r.json().get("level")) for r in webhook.received] == [
        (SLACK_PATH, None), (JSON_PATH, "warning"),
    ]  # fmt: skip


def test_webhooks_work_without_smtp(db_url: str, webhook: Hook) -> None:
    create_budget(db_url, name="org", threshold_usd=1, alert_type="warning",
                  alert_at_percentage=100)  # fmt: skip
    record_quietly(db_url, "2", 0)
    evaluation = evaluate_budgets(db_url, now=NOW + timedelta(minutes=1))
    assert len(webhook.received) == 2
    assert states(db_url) == [("exceeded", False, True)]  # the email still waits
    port = webhook.url.rsplit(":", 1)[1]
    assert evaluation.lines()[2:5] == [
        f"posted 1 alert to slack:http://127.0.0.1:{port}/…, json:http://127.0.0.1:{port}/…:",
        "  org: exceeded, $2.00 of $1.00",
        "WARNING: 1 budget alert is due but cannot be emailed: AA_SMTP_HOST, AA_SMTP_FROM and "
        "AA_BUDGET_ALERT_EMAILS are not set. Complete the email settings where `aa-notebooks "
        "budgets evaluate` runs; until then no alert email is sent.",
    ]
    assert "s3cr3t" not in str(evaluation)


def test_503_twice_then_200_is_three_requests_and_one_alert(db_url: str) -> None:
    create_budget(db_url, name="org", threshold_usd=1, alert_type="warning",
                  alert_at_percentage=100)  # fmt: skip
    record_quietly(db_url, "2", 0)
    with http_server((503, {}), (503, {})) as server:
        deliver_alerts(db_url, webhooks=fast(server.at(SLACK_PATH)))
        deliver_alerts(db_url, webhooks=fast(server.at(SLACK_PATH)))  # nothing left to post
    assert len(server.received) == 3
    assert [r.json()["text"] for r in server.received] == [
        "Budget org exceeded its threshold: $2.00 of $1.00"
    ] * 3
    assert states(db_url) == [("exceeded", False, True)]


def test_a_400_is_not_retried_and_warns_without_the_path(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    create_budget(db_url, name="org", threshold_usd=1, alert_type="warning",
                  alert_at_percentage=100)  # fmt: skip
    record_quietly(db_url, "2", 0)
    with http_server((400, {})) as server:
        settings = fast(server.at(SLACK_PATH))
        with caplog.at_level(logging.WARNING):
            deliver_alerts(db_url, webhooks=settings)
        deliver_alerts(db_url, webhooks=settings)  # refused for good: not posted again
    assert len(server.received) == 1
    [warning] = [  # one line (the email's "not configured" lines are not about webhooks)
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "not emailed" not in r.getMessage()
    ]
    [event_id] = event_ids(db_url)
    assert warning == (
        f"budget alert {event_id} not posted: webhook {server.url}/… failed after 1 attempt: "
        "HTTP 400 Bad Request: error 400 at …"
    )
    assert states(db_url) == [("exceeded", False, True)]


def test_a_server_down_never_stops_the_run_and_is_retried_later(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default path: record_execution delivers with the settings in the environment."""
    port = free_port()
    monkeypatch.setenv("AA_ALERT_WEBHOOKS", f"json:http://127.0.0.1:{port}{JSON_PATH}")
    create_budget(db_url, name="org", threshold_usd=1, alert_type="warning",
                  alert_at_percentage=100)  # fmt: skip
    record(db_url, "2", NOW)  # completes: nothing raised
    assert states(db_url) == [("exceeded", False, False)]  # waits for the next delivery
    with http_server(port=port) as server:
        evaluation = evaluate_budgets(db_url, now=NOW + timedelta(minutes=1))
        evaluate_budgets(db_url, now=NOW + timedelta(minutes=2))
    assert [r.json()["level"] for r in server.received] == ["exceeded"]
    assert states(db_url) == [("exceeded", False, True)]
    assert evaluation.lines()[3] == "  org: exceeded, $2.00 of $1.00"


def test_email_and_webhooks_fail_apart(db_url: str, mail: Inbox) -> None:
    create_budget(db_url, name="org", threshold_usd=1, alert_type="warning",
                  alert_at_percentage=100)  # fmt: skip
    record_quietly(db_url, "2", 0)
    down = fast(f"http://127.0.0.1:{free_port()}/hook")
    deliver_alerts(db_url, webhooks=down)  # emailed; the webhook is down
    assert len(mail.messages) == 1 and states(db_url) == [("exceeded", True, False)]
    smtp_down = SmtpSettings(host="127.0.0.1", sender="budgets@example.com", port=free_port(),
                             security="none")  # fmt: skip
    record_quietly(db_url, "1", 60 * 24 * 31)  # next window: $1 of $1, fires again
    with http_server() as server:
        deliver_alerts(
            db_url,
            mailer=AlertMailer(smtp_down, ("ops@example.com",), 0, 0.001),
            webhooks=fast(server.at("/hook")),
        )
    assert len(server.received) == 2  # both events, once each
    assert len(mail.messages) == 1  # the first email is not sent again
    assert states(db_url) == [("exceeded", True, True), ("exceeded", False, True)]


def test_without_webhooks_alerts_are_not_replayed_when_one_is_added(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_budget(db_url, name="org", threshold_usd=1, alert_type="warning")
    record(db_url, "2", NOW)  # no AA_ALERT_WEBHOOKS: nothing to post, marked done
    assert states(db_url) == [("warning", False, True), ("exceeded", False, True)]
    with http_server() as server:
        monkeypatch.setenv("AA_ALERT_WEBHOOKS", server.at("/hook"))
        evaluate_budgets(db_url, now=NOW + timedelta(minutes=1))
    assert server.received == []


def test_a_malformed_setting_keeps_alerts_waiting_and_says_why(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AA_ALERT_WEBHOOKS", "hooks.slack.com/services/s3cr3t")
    create_budget(db_url, name="org", threshold_usd=1, alert_type="warning",
                  alert_at_percentage=100)  # fmt: skip
    record(db_url, "2", NOW)  # completes: nothing raised
    evaluation = evaluate_budgets(db_url, now=NOW + timedelta(minutes=1))
    problem = (
        "AA_ALERT_WEBHOOKS entry 1: not a URL: give http:// or https:// URLs, separated by commas"
    )
    assert f"1 alert not posted to webhooks: {problem}" in evaluation.lines()
    assert states(db_url) == [("exceeded", False, False)]
    assert "s3cr3t" not in str(evaluation)
    with http_server() as server:
        monkeypatch.setenv("AA_ALERT_WEBHOOKS", server.at("/hook"))
        evaluate_budgets(db_url, now=NOW + timedelta(minutes=2))
    assert len(server.received) == 1  # went out once the setting was fixed


def test_evaluate_fails_when_an_alert_could_not_be_posted(
    db_url: str, mail: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_budget(db_url, name="org", threshold_usd=1, alert_type="warning",
                  alert_at_percentage=100)  # fmt: skip
    record_quietly(db_url, "2", 0)
    with http_server((404, {})) as server:
        monkeypatch.setenv("AA_ALERT_WEBHOOKS", server.at(SLACK_PATH))
        evaluation = evaluate_budgets(db_url, now=NOW + timedelta(minutes=1))
    assert len(mail.messages) == 1 and len(server.received) == 1
    assert not evaluation.ok
    assert evaluation.problem == "1 alert could not be posted to every webhook"
    assert evaluation.lines()[-2:] == [
        "not posted to every webhook, not retried (1):",
        "  org: exceeded, $2.00 of $1.00",
    ]


def test_the_tracker_posts_and_a_dead_webhook_never_stops_its_runs(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$0.006 a run (gpt-4o, 1,200 + 300 tokens) against $0.01 (warning at 100%): the second
    run fires the exceeded alert, which the tracker's default hook posts; with the webhook
    down, runs still complete and the alert waits."""
    create_budget(db_url, name="cap", threshold_usd=Decimal("0.01"), alert_type="warning",
                  alert_at_percentage=100, period_days=1)  # fmt: skip
    port = free_port()
    monkeypatch.setenv("AA_ALERT_WEBHOOKS", f"json:http://127.0.0.1:{port}/hook")
    tracker = Tracker(db_url, spool_dir=tmp_path / "spool")
    try:
        for _ in range(2):
            with tracker.execution(agent_name="researcher") as run:
                run.tokens("main_agent", "gpt-4o", 1200, 300)
            tracker.flush()
        assert wait_for_deliveries(timeout=60)  # the default hook posts from the background
        assert states(db_url) == [("exceeded", False, False)]  # the webhook is down
        with http_server(port=port) as server:
            with tracker.execution(agent_name="researcher") as run:  # no new crossing
                run.tokens("main_agent", "gpt-4o", 1200, 300)
            tracker.flush()
            evaluate_budgets(db_url)
    finally:
        tracker.close()
    assert [(r.json()["level"], r.json()["spend_usd"]) for r in server.received] == [
        ("exceeded", "0.012000")
    ]
    assert states(db_url) == [("exceeded", False, True)]


def test_concurrent_deliverers_post_each_alert_once(db_url: str) -> None:
    create_budget(db_url, threshold_usd=1, alert_type="warning", alert_at_percentage=50)
    create_budget(db_url, threshold_usd=2, alert_type="warning", alert_at_percentage=50)
    record_quietly(db_url, "3", 0)  # four events, none delivered
    with http_server() as server:
        settings = fast(f"json:{server.at('/hook')}")
        threads = [
            threading.Thread(target=lambda: deliver_alerts(db_url, webhooks=settings))
            for _ in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert len({r.json()["alert_id"] for r in server.received}) == len(server.received) == 4
    assert [posted for _, _, posted in states(db_url)] == [True] * 4


def test_a_slow_webhook_never_holds_up_the_recording(db_url: str, webhook: Hook) -> None:
    """The document's recording path returns while the webhook is still answering: delivery
    runs on a background thread (were it inline, `record_execution` would wait for `hold`)."""
    create_budget(db_url, name="org", threshold_usd=1, alert_type="warning",
                  alert_at_percentage=100)  # fmt: skip
    webhook.hold = threading.Event()
    execution = AgentExecutionCreate(status="success", cost_usd=Decimal(2), started_at=NOW)
    try:
        record_execution(db_url, execution, now=NOW)
        assert not wait_for_deliveries(0.2)  # still posting: the server holds the request
    finally:
        webhook.hold.set()
    assert wait_for_deliveries(30)
    assert [r.json()["level"] for r in webhook.received if r.path == JSON_PATH] == ["exceeded"]
    assert states(db_url) == [("exceeded", False, True)]


def test_a_per_user_alert_names_its_user(db_url: str, webhook: Hook) -> None:
    """$10 for each user, hard stop: ALICE's $10 exceeds it (80% and 100% fire at once)."""
    create_budget(db_url, name="each", per_user=True, threshold_usd=10, alert_type="hard_stop")
    record(db_url, "10", NOW, user_id=ALICE)
    generic = [r.json() for r in webhook.received if r.path == JSON_PATH]
    assert [(g["level"], g["budget"]["user_id"], g["budget"]["per_user"]) for g in generic] == [
        ("warning", str(ALICE), True), ("exceeded", str(ALICE), True),
    ]  # fmt: skip
    summary = f"Budget each (user {ALICE}) exceeded its threshold: $10.00 of $10.00"
    assert generic[1]["summary"] == summary
    slack = [r.json() for r in webhook.received if r.path == SLACK_PATH][1]
    texts = [f["text"] for f in slack["blocks"][1]["fields"]]
    assert f"*Scope*\neach user separately (this alert: user {ALICE})" in texts
    assert (
        f"new executions of user {ALICE} are refused" in slack["blocks"][2]["elements"][0]["text"]
    )
