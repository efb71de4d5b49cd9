"""Alert events fire once per crossing and are emailed once, checked on a real SMTP server on
localhost; a failed send is retried by the next evaluation."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest

from aa_notebooks.analytics import connect
from aa_notebooks.budgets import (
    AlertMailer,
    budget_status,
    create_budget,
    deliver_alerts,
    evaluate_budgets,
    update_budget,
)
from aa_notebooks.budgets.client import BudgetClient
from aa_notebooks.notify import SmtpSettings
from aa_notebooks.notify.webhook import Webhook, WebhookSettings
from tests.budgets.conftest import NOW, events, record
from tests.notify.http_server import http_server
from tests.notify.smtp_server import (
    Filtering,
    Inbox,
    RefusingSome,
    free_port,
    smtp_server,
    stalling_server,
)


def test_each_crossing_fires_once_and_is_emailed_once(db_url: str, mail: Inbox) -> None:
    create_budget(db_url, name="org", threshold_usd=10, alert_at_percentage=80,
                  alert_type="hard_stop")  # fmt: skip
    for minute in range(7):
        record(db_url, "1", NOW + timedelta(minutes=minute))
    assert events(db_url) == [] and mail.messages == []
    record(db_url, "1", NOW + timedelta(minutes=7))  # $8: crosses 80%
    assert events(db_url) == [("warning", Decimal(8), True)]
    record(db_url, "1", NOW + timedelta(minutes=8))  # $9: still above 80%, nothing new
    record(db_url, "1.5", NOW + timedelta(minutes=9))  # $10.50: crosses 100%
    for minute in range(10, 14):  # in-flight executions recorded after the hard stop
        record(db_url, "1", NOW + timedelta(minutes=minute))
    evaluate_budgets(db_url, now=NOW + timedelta(minutes=15))  # evaluation adds nothing either
    assert events(db_url) == [("warning", Decimal(8), True), ("exceeded", Decimal("10.5"), True)]
    assert [m["Subject"] for m in mail.messages] == [
        "Budget 'org' reached 80%: $8.00 of $10.00",
        "Budget 'org' exceeded its threshold: $10.50 of $10.00",
    ]
    assert mail.envelopes == [["ops@example.com", "cfo@example.com"]] * 2
    exceeded = mail.messages[1]
    assert exceeded["From"] == "budgets@example.com"
    text = exceeded.get_body(("plain",)).get_content()
    assert "Spend: $10.50 (105.0% of $10.00)" in text
    assert "new executions in this scope are refused" in text
    html = exceeded.get_body(("html",)).get_content()
    assert "Budget org exceeded its threshold" in html and "width:100.0%" in html


def test_a_new_event_after_falling_below_and_crossing_again(db_url: str, mail: Inbox) -> None:
    """Window = the budget's rolling window: one day here."""
    create_budget(db_url, name="daily", threshold_usd=10, alert_at_percentage=50, period_days=1,
                  alert_type="warning")  # fmt: skip
    for minute in range(5):
        record(db_url, "1", NOW + timedelta(minutes=minute))  # $5 at NOW: warning
    record(db_url, "1", NOW + timedelta(hours=20))  # $6, still above: nothing
    later = NOW + timedelta(days=1, hours=1)  # the first five left the window: $1
    for minute in range(4):
        record(db_url, "1", later + timedelta(minutes=minute))  # $2, $3, $4, $5: crosses again
    assert [kind for kind, _, _ in events(db_url)] == ["warning", "warning"]
    assert [spend for _, spend, _ in events(db_url)] == [Decimal(5), Decimal(5)]
    assert len(mail.messages) == 2


def test_a_level_held_through_a_whole_window_fires_again(db_url: str, mail: Inbox) -> None:
    create_budget(db_url, threshold_usd=10, period_days=1, alert_type="warning")
    record(db_url, "10", NOW)  # warning and exceeded at once
    record(db_url, "10", NOW + timedelta(hours=13))
    evaluate_budgets(db_url, now=NOW + timedelta(hours=23))
    assert len(events(db_url)) == 2
    evaluate_budgets(db_url, now=NOW + timedelta(days=1, hours=1))  # still $10 in the new window
    assert [kind for kind, _, _ in events(db_url)] == [
        "warning", "exceeded", "warning", "exceeded",
    ]  # fmt: skip
    evaluate_budgets(db_url, now=NOW + timedelta(days=1, hours=2))
    assert len(events(db_url)) == len(mail.messages) == 4


def test_a_lowered_threshold_is_caught_by_evaluation_once(db_url: str, mail: Inbox) -> None:
    budget = create_budget(db_url, threshold_usd=100, alert_type="warning")
    record(db_url, "30", NOW)
    update_budget(db_url, budget.id, threshold_usd=35)  # 30 of 35 is 85.7%: no write crossed
    assert events(db_url) == []
    evaluate_budgets(db_url, now=NOW)
    evaluate_budgets(db_url, now=NOW + timedelta(minutes=1))
    assert events(db_url) == [("warning", Decimal(30), True)]
    assert len(mail.messages) == 1


def test_no_email_for_a_budget_without_email_notification(db_url: str, mail: Inbox) -> None:
    """Its events are recorded as muted, not as sent; turning notifications on later sends only
    what fires from then on, not the two alerts that fired while they were off."""
    budget = create_budget(db_url, threshold_usd=1, alert_type="warning", email_notification=False)
    record(db_url, "2", NOW)
    evaluate_budgets(db_url, now=NOW)
    assert [(kind, notified) for kind, _, notified in events(db_url)] == [
        ("warning", False), ("exceeded", False),
    ]  # fmt: skip
    report = BudgetClient.of(connect(db_url, now=lambda: NOW)).alert_events("24h").frame
    assert report[["kind", "notified", "muted"]].values.tolist() == [
        ["exceeded", False, True], ["warning", False, True],
    ]  # fmt: skip
    update_budget(db_url, budget.id, email_notification=True)
    evaluate_budgets(db_url, now=NOW + timedelta(minutes=1))
    with http_server() as server:
        hooks = WebhookSettings((Webhook(server.at("/json"), "json"),), 5, 0, 0)
        deliver_alerts(db_url, webhooks=hooks)
        assert server.received == []
    assert mail.messages == []


def test_without_smtp_settings_events_wait_unsent(db_url: str) -> None:
    create_budget(db_url, threshold_usd=1, alert_type="warning", alert_at_percentage=100)
    record(db_url, "2", NOW)  # recorded; SMTP is not configured: no error, nothing sent
    assert events(db_url) == [("exceeded", Decimal(2), False)]


def test_a_failed_send_is_retried_by_the_next_evaluation(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    create_budget(db_url, threshold_usd=1, alert_type="hard_stop", alert_at_percentage=100)
    record(db_url, "2", NOW)
    down = SmtpSettings(host="127.0.0.1", sender="budgets@example.com", port=free_port(),
                        security="none", password="hunter2-secret")  # fmt: skip
    failed = evaluate_budgets(
        db_url, now=NOW, mailer=AlertMailer(down, ("ops@example.com",), 1, 0.001)
    )
    assert events(db_url) == [("exceeded", Decimal(2), False)]
    assert "not emailed, will retry" in caplog.text and "hunter2-secret" not in caplog.text
    assert not failed.ok
    assert failed.problem == "1 alert could not be emailed; the next evaluation retries"
    assert str(failed).splitlines() == [
        "evaluated 1 budget: 1 exceeded; spend written back",
        "fired no alert",  # it fired when the execution was recorded
        "not emailed, retried at the next evaluation (1):",
        f"  {failed.statuses[0].budget.id}: exceeded, $2.00 of $1.00",
    ]
    with smtp_server() as (port, inbox):
        up = SmtpSettings(host="127.0.0.1", sender="budgets@example.com", port=port,
                          security="none")  # fmt: skip
        mailer = AlertMailer(up, ("ops@example.com",))
        sent = evaluate_budgets(db_url, now=NOW, mailer=mailer)
        again = evaluate_budgets(db_url, now=NOW, mailer=mailer)
    assert events(db_url) == [("exceeded", Decimal(2), True)]
    assert (sent.ok, sent.delivery.recipients, len(sent.delivery.sent)) == (
        True, ("o***@example.com",), 1
    )  # fmt: skip
    assert str(again).splitlines()[1:] == ["fired no alert", "no alert email to send"]
    assert len(inbox.messages) == 1


def test_a_silent_mail_server_costs_one_wait_not_one_per_alert(db_url: str) -> None:
    for name in ("a", "b", "c"):
        create_budget(db_url, name=name, threshold_usd=1, alert_type="warning",
                      alert_at_percentage=100)  # fmt: skip
    record(db_url, "2", NOW)  # three alerts due; SMTP is not configured yet
    with stalling_server() as (port, accepted):
        silent = SmtpSettings(host="127.0.0.1", sender="budgets@example.com", port=port,
                              security="none", timeout=0.2)  # fmt: skip
        mailer = AlertMailer(silent, ("ops@example.com",), 3, 0.001)
        failed = evaluate_budgets(db_url, now=NOW, mailer=mailer)
    assert len(accepted) == 2  # the first alert's two attempts; the others were not tried
    assert len(failed.delivery.failed) == 3 and failed.delivery.sent == ()
    assert events(db_url) == [("exceeded", Decimal(2), False)] * 3
    with smtp_server() as (port, inbox):
        up = SmtpSettings(host="127.0.0.1", sender="budgets@example.com", port=port,
                          security="none")  # fmt: skip
        sent = evaluate_budgets(db_url, now=NOW, mailer=AlertMailer(up, ("ops@example.com",)))
    assert len(sent.delivery.sent) == 3 and len(inbox.messages) == 3


def test_a_message_refused_for_its_content_does_not_hold_back_the_next(db_url: str) -> None:
    """A content filter refuses the 'casino night' alert (554 to DATA), due first, every time:
    the 'production' hard stop's alert after it is still sent."""
    create_budget(db_url, name="casino night", threshold_usd=1, alert_type="warning",
                  alert_at_percentage=100)  # fmt: skip
    create_budget(db_url, name="production", threshold_usd=3, alert_type="hard_stop",
                  alert_at_percentage=100)  # fmt: skip
    record(db_url, "2", NOW)  # casino night exceeded
    record(db_url, "2", NOW + timedelta(minutes=1))  # production exceeded
    with smtp_server(inbox=Filtering()) as (port, inbox):
        up = SmtpSettings(host="127.0.0.1", sender="budgets@example.com", port=port,
                          security="none")  # fmt: skip
        for _ in range(2):
            evaluated = evaluate_budgets(
                db_url, now=NOW, mailer=AlertMailer(up, ("ops@example.com",), 3, 0.001)
            )
    assert [m["Subject"] for m in inbox.messages] == [
        "Budget 'production' exceeded its threshold: $4.00 of $3.00"
    ]
    assert [notice.budget for notice in evaluated.delivery.failed] == ["casino night"]
    assert sorted(events(db_url)) == [
        ("exceeded", Decimal(2), False), ("exceeded", Decimal(4), True)
    ]  # fmt: skip


def test_a_recipient_refused_while_the_others_take_it_fails_evaluation_without_resending(
    db_url: str,
) -> None:
    create_budget(db_url, threshold_usd=1, alert_type="warning", alert_at_percentage=100)
    record(db_url, "2", NOW)  # one alert due; SMTP is not configured yet
    with smtp_server(inbox=RefusingSome()) as (port, inbox):
        up = SmtpSettings(host="127.0.0.1", sender="budgets@example.com", port=port,
                          security="none")  # fmt: skip
        mailer = AlertMailer(up, ("ops@example.com", "bad@example.com"), 3, 0.001)
        evaluated = evaluate_budgets(db_url, now=NOW, mailer=mailer)
        again = evaluate_budgets(db_url, now=NOW, mailer=mailer)
    assert inbox.envelopes == [["ops@example.com"]]  # once: ops does not get it twice
    assert events(db_url) == [("exceeded", Decimal(2), True)]
    assert not evaluated.ok
    assert evaluated.problem == (
        "the mail server refused budget alerts for b***@example.com (the other recipients "
        "have them, so they are not sent again): check AA_BUDGET_ALERT_EMAILS"
    )
    assert str(evaluated).splitlines()[2:5] == [
        "emailed 1 alert to o***@example.com, b***@example.com:",
        f"  {evaluated.statuses[0].budget.id}: exceeded, $2.00 of $1.00",
        "refused by the mail server for b***@example.com",
    ]
    assert again.ok


def test_concurrent_deliverers_send_each_alert_once(db_url: str) -> None:
    create_budget(db_url, threshold_usd=1, alert_type="warning", alert_at_percentage=50)
    create_budget(db_url, threshold_usd=2, alert_type="warning", alert_at_percentage=50)
    record(db_url, "3", NOW)  # four events; SMTP is not configured yet: they wait
    assert [notified for _, _, notified in events(db_url)] == [False] * 4
    with smtp_server() as (port, inbox):
        settings = SmtpSettings(host="127.0.0.1", sender="budgets@example.com", port=port,
                                security="none")  # fmt: skip
        mailer = AlertMailer(settings, ("ops@example.com",))
        sent: list[int] = []
        threads = [
            threading.Thread(target=lambda: sent.append(deliver_alerts(db_url, mailer=mailer)))
            for _ in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert sum(sent) == len(inbox.messages) == 4
    assert [notified for _, _, notified in events(db_url)] == [True] * 4


def test_a_switched_off_budget_sends_no_alert_it_had_not_sent(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alerts fired while email was unset went out after the budget was switched off, while
    `budgets evaluate` said "none active"."""
    budget = create_budget(db_url, threshold_usd=1, alert_type="warning", alert_at_percentage=100)
    record(db_url, "2", NOW)  # SMTP is not configured: the alert waits unsent
    assert budget_status(db_url, now=NOW).email_warning is not None
    update_budget(db_url, budget.id, is_active=False)
    assert budget_status(db_url, now=NOW).email_warning is None  # it said 1 alert was due
    with smtp_server() as (port, inbox):
        for name, value in (("HOST", "127.0.0.1"), ("PORT", str(port)), ("SECURITY", "none"),
                            ("FROM", "budgets@example.com")):  # fmt: skip
            monkeypatch.setenv(f"AA_SMTP_{name}", value)
        monkeypatch.setenv("AA_BUDGET_ALERT_EMAILS", "ops@example.com")
        evaluate_budgets(db_url, now=NOW)
    assert inbox.messages == []
    assert events(db_url) == [("exceeded", Decimal(2), False)]
