"""send_email against a real local SMTP server: delivery, login, retry with backoff, clear
errors that never hold the password."""

from __future__ import annotations

import base64
import logging
import smtplib
import time
from contextlib import ExitStack

import pytest

from aa_notebooks.notify import EmailDeliveryError, SmtpSettings, build_message, send_email
from aa_notebooks.notify import smtp as smtp_module
from tests.notify.smtp_server import (
    Credentials,
    Greylisting,
    Inbox,
    RefusingSome,
    free_port,
    self_signed_tls,
    smtp_server,
    stalling_server,
)

PASSWORD = "pa55-w0rd-xyz"


def _message():
    return build_message(
        subject="Hello",
        sender="alerts@example.com",
        recipients=["ops@example.com", "cfo@example.com"],
        text="plain body",
        html="<p>html body</p>",
    )


def _settings(port: int, **extra: object) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", sender="alerts@example.com", port=port,
                        security="none", timeout=5, **extra)  # type: ignore[arg-type]  # fmt: skip


def test_delivers_to_a_real_server(smtp: tuple[int, Inbox]) -> None:
    port, inbox = smtp
    send_email(_message(), _settings(port))
    assert len(inbox.messages) == 1
    received = inbox.messages[0]
    assert received["Subject"] == "Hello"
    assert inbox.envelopes == [["ops@example.com", "cfo@example.com"]]
    assert received.get_body(("plain",)).get_content().strip() == "plain body"
    assert received.get_body(("html",)).get_content().strip() == "<p>html body</p>"


def test_a_recipient_refused_while_the_others_take_it_is_named_and_not_sent_again() -> None:
    message = build_message(subject="Hello", sender="alerts@example.com", text="body",
                            recipients=["ops@example.com", "bad-cfo@example.com"])  # fmt: skip
    with (
        smtp_server(inbox=RefusingSome()) as (port, inbox),
        pytest.raises(EmailDeliveryError) as refused,
    ):
        send_email(message, _settings(port), retries=3, backoff=0)
    assert inbox.envelopes == [["ops@example.com"]]  # once: no retry sends it to ops again
    error = refused.value
    assert error.partly_delivered and error.refused_recipients == ("bad-cfo@example.com",)
    assert str(error) == (
        f"the email went out via 127.0.0.1:{port}, but the server refused it for "
        "bad-cfo@example.com (550 5.1.1 No such user here); the other recipients have it. "
        "Check those addresses"
    )


def test_a_recipient_refused_for_now_is_tried_again_alone() -> None:
    """451 (greylisting) is a refusal for now: the greylisted CFO never got the alert, which
    was counted as sent."""
    message = build_message(subject="Hello", sender="alerts@example.com", text="body",
                            recipients=["ops@example.com", "grey-cfo@example.com"])  # fmt: skip
    with smtp_server(inbox=Greylisting()) as (port, inbox):
        send_email(message, _settings(port), retries=3, backoff=0)
    assert inbox.envelopes == [["ops@example.com"], ["grey-cfo@example.com"]]  # each once


def test_a_recipient_refused_for_now_on_every_try_is_named_at_the_end() -> None:
    message = build_message(subject="Hello", sender="alerts@example.com", text="body",
                            recipients=["ops@example.com", "grey-cfo@example.com"])  # fmt: skip
    with (
        smtp_server(inbox=Greylisting(times=10)) as (port, inbox),
        pytest.raises(EmailDeliveryError) as refused,
    ):
        send_email(message, _settings(port), retries=2, backoff=0)
    assert inbox.envelopes == [["ops@example.com"]]
    assert refused.value.refused_recipients == ("grey-cfo@example.com",)
    assert str(refused.value).startswith(
        f"the email went out via 127.0.0.1:{port}, but the server refused it for "
        "grey-cfo@example.com (451 4.7.1 Greylisted, try again later)"
    )
    assert inbox.offered["grey-cfo@example.com"] == 3  # the first try and two more


def test_logs_in() -> None:
    with smtp_server(Credentials("mailer", PASSWORD)) as (port, inbox):
        send_email(_message(), _settings(port, user="mailer", password=PASSWORD))
    assert len(inbox.messages) == 1


def test_wrong_password_fails_at_once_without_showing_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with (
        smtp_server(Credentials("mailer", "the-right-one")) as (port, inbox),
        pytest.raises(EmailDeliveryError) as failure,
    ):
        send_email(_message(), _settings(port, user="mailer", password=PASSWORD), backoff=0)
    assert failure.value.attempts == 1  # 535 is permanent: no retry
    assert "535" in str(failure.value) and f"127.0.0.1:{port}" in str(failure.value)
    assert PASSWORD not in str(failure.value) and PASSWORD not in caplog.text
    assert inbox.messages == []


def test_retries_with_backoff_then_names_the_server(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()  # nothing listens there
    waits: list[float] = []
    monkeypatch.setattr(smtp_module.time, "sleep", waits.append)
    settings = _settings(port, user="mailer", password=PASSWORD)
    with (
        caplog.at_level(logging.WARNING, logger="aa_notebooks.notify.smtp"),
        pytest.raises(EmailDeliveryError) as failure,
    ):
        send_email(_message(), settings, retries=3, backoff=0.01)
    assert waits == [0.01, 0.02, 0.04]
    error = failure.value
    assert (error.address, error.attempts) == (f"127.0.0.1:{port}", 4)
    assert "refused" in error.last_error.lower()
    assert f"could not send email via 127.0.0.1:{port} after 4 attempts" in str(error)
    assert len([r for r in caplog.records if "attempt" in r.getMessage()]) == 4
    assert PASSWORD not in str(error) and PASSWORD not in caplog.text


@pytest.mark.parametrize("drip_every_s", [None, 0.05], ids=["silent", "dripping"])
def test_a_server_that_never_answers_is_tried_twice_and_named(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, drip_every_s: float | None
) -> None:
    """Silent, each attempt waits out the timeout; sending a line now and then, never finishing
    its greeting, the attempt is cut at twice the timeout (it used to hang for ever)."""
    waits: list[float] = []
    monkeypatch.setattr(smtp_module.time, "sleep", waits.append)
    with stalling_server(drip_every_s) as (port, accepted):
        settings = SmtpSettings(host="127.0.0.1", sender="a@example.com", port=port,
                                security="none", timeout=0.2)  # fmt: skip
        started = time.monotonic()
        with (
            caplog.at_level(logging.WARNING, logger="aa_notebooks.notify.smtp"),
            pytest.raises(EmailDeliveryError) as failure,
        ):
            send_email(_message(), settings, retries=3, backoff=1)
        took = time.monotonic() - started
    assert failure.value.attempts == 2 and waits == [1] and len(accepted) == 2
    assert "the server did not answer in time: AA_SMTP_TIMEOUT is 0.2 s for each reply" in str(
        failure.value
    )
    assert "(attempt 1 of 2)" in caplog.text
    assert 0.4 <= took < 2.5  # two attempts of at most 0.4 s each, and the watcher's ticks


def test_a_greeting_that_refuses_is_named_and_not_retried() -> None:
    """The greeting's code is checked as smtplib's constructor checks it: a 554 is final."""
    refusal = b"554 5.7.1 your IP is blocklisted\r\n"
    with stalling_server(greeting=refusal) as (port, accepted):
        settings = SmtpSettings(host="127.0.0.1", sender="a@example.com", port=port,
                                security="none", timeout=5)  # fmt: skip
        with pytest.raises(EmailDeliveryError) as failure:
            send_email(_message(), settings, retries=3, backoff=0.001)
    assert failure.value.attempts == 1 and len(accepted) == 1
    assert failure.value.last_error == ("SMTPConnectError: 554 5.7.1 your IP is blocklisted")


def test_tls_that_fails_is_not_retried() -> None:
    with smtp_server() as (port, inbox):  # a plain server, told to speak TLS at once
        settings = SmtpSettings(host="127.0.0.1", sender="a@example.com", port=port,
                                security="ssl", timeout=5)  # fmt: skip
        with pytest.raises(EmailDeliveryError) as failure:
            send_email(_message(), settings, retries=3, backoff=0.001)
    assert failure.value.attempts == 1 and "SSL" in failure.value.last_error
    assert inbox.messages == []


def test_starttls_checks_the_servers_certificate_and_does_not_retry_it(tmp_path) -> None:
    """STARTTLS verifies the certificate against AA_SMTP_HOST; one that does not verify (here
    self-signed) fails at once, named, since trying again cannot help."""
    with smtp_server(starttls=self_signed_tls(tmp_path)) as (port, inbox):
        settings = SmtpSettings(host="127.0.0.1", sender="a@example.com", port=port,
                                security="starttls", timeout=5)  # fmt: skip
        with pytest.raises(EmailDeliveryError) as failure:
            send_email(_message(), settings, retries=3, backoff=0.001)
    assert failure.value.attempts == 1
    assert "SSLCertVerificationError" in failure.value.last_error
    assert "self-signed certificate" in failure.value.last_error
    assert inbox.messages == []


def test_real_backoff_is_short_when_asked() -> None:
    started = time.monotonic()
    with pytest.raises(EmailDeliveryError):
        send_email(_message(), _settings(free_port()), retries=2, backoff=0.001)
    assert time.monotonic() - started < 2


def test_a_server_that_comes_up_during_the_retries_gets_the_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = free_port()
    with ExitStack() as stack:
        inboxes: list[Inbox] = []

        def start_server(_seconds: float) -> None:
            if not inboxes:
                inboxes.append(stack.enter_context(smtp_server(port=port))[1])

        monkeypatch.setattr(smtp_module.time, "sleep", start_server)
        send_email(_message(), _settings(port), retries=2, backoff=0)
        assert len(inboxes[0].messages) == 1


def test_password_is_scrubbed_from_server_replies() -> None:
    settings = _settings(25, user="mailer", password=PASSWORD)
    echoed = base64.b64encode(f"\0mailer\0{PASSWORD}".encode())
    reply = b"bad credentials " + echoed + b" " + PASSWORD.encode()
    error = smtplib.SMTPAuthenticationError(535, reply)
    described = smtp_module._describe(error, settings)
    assert PASSWORD not in described and echoed.decode() not in described
    assert described.startswith("SMTPAuthenticationError: 535 bad credentials ***")


@pytest.mark.parametrize("password", ["Wrong  Pa55  two-spaces", "tab\tPa55", " padded Pa55 "])
def test_a_password_with_runs_of_spaces_is_scrubbed_once_the_reply_is_one_line(
    password: str,
) -> None:
    """Replies are made one line, runs of spaces and tabs one space: the password as it then
    reads was shown, e.g. "Wrong Pa55 two-spaces"."""
    settings = _settings(25, user="mailer", password=password)
    error = smtplib.SMTPAuthenticationError(535, f"bad login = {password}".encode())
    described = smtp_module._describe(error, settings)
    assert described == "SMTPAuthenticationError: 535 bad login = ***"
