"""Send a message over SMTP, retrying an unreachable or busy server with exponential backoff.

Connection failures, disconnects and 4xx replies are retried; 5xx replies (bad credentials,
refused sender or recipients) and a server without STARTTLS are not, since trying again cannot
help. A server that does not answer within the timeout (AA_SMTP_TIMEOUT) is tried twice at most:
four waits of 30 s each kept a report or an alert run hanging for over two minutes. The password
never appears in an error or a log line: texts built from server replies are scrubbed of it.
"""

from __future__ import annotations

import base64
import logging
import smtplib
import ssl
import time
from email.message import EmailMessage

from aa_notebooks.errors import AnalyticsError
from aa_notebooks.notify.settings import ENV_TIMEOUT, SmtpSettings

log = logging.getLogger(__name__)
_SILENT_ATTEMPTS = 2
"""Attempts a server that does not answer gets: waiting out its timeout again rarely helps."""


class EmailDeliveryError(AnalyticsError):
    """An email could not be sent; says which server, how many attempts and the last error."""

    def __init__(self, address: str, attempts: int, last_error: str) -> None:
        self.address = address
        self.attempts = attempts
        self.last_error = last_error
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        super().__init__(
            f"could not send email via {address} after {tries}: {last_error}; check "
            "AA_SMTP_HOST, AA_SMTP_PORT, AA_SMTP_SECURITY and the credentials, and that the "
            "server accepts connections"
        )


def send_email(
    message: EmailMessage, settings: SmtpSettings, *, retries: int = 3, backoff: float = 1.0
) -> None:
    """Send `message`; on failure wait backoff, 2*backoff, 4*backoff... for up to `retries` more
    tries, then raise EmailDeliveryError."""
    attempts = retries + 1
    silent = 0  # attempts the server did not answer in time
    for attempt in range(1, attempts + 1):
        try:
            _deliver(message, settings)
            return
        except (OSError, smtplib.SMTPException) as exc:
            error = _describe(exc, settings)
            if _timed_out(exc):
                silent += 1
                error += (
                    f" (no answer within {settings.timeout:g} s; {ENV_TIMEOUT} sets how long to "
                    "wait)"
                )
            if _permanent(exc) or silent == _SILENT_ATTEMPTS:
                raise EmailDeliveryError(settings.address, attempt, error) from None
            log.warning(
                "sending email via %s failed (attempt %d of %d): %s",
                settings.address, attempt, attempts, error,
            )  # fmt: skip
            if attempt == attempts:
                raise EmailDeliveryError(settings.address, attempt, error) from None
            time.sleep(backoff * 2 ** (attempt - 1))


def _deliver(message: EmailMessage, settings: SmtpSettings) -> None:
    """One attempt: connect, secure, log in, send; a failure while saying goodbye is ignored."""
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if settings.security == "ssl":
        client = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=context
        )
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    try:
        if settings.security == "starttls":
            client.starttls(context=context)
        if settings.user:
            client.login(settings.user, settings.password or "")
        client.send_message(message)
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()


def _timed_out(exc: BaseException) -> bool:
    """Whether the server did not answer in time (smtplib reports a timed-out reply as a
    disconnect, the timeout as its context)."""
    return isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError)


def _permanent(exc: BaseException) -> bool:
    """Whether trying again cannot help (5xx reply, refused recipients, no STARTTLS)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused | smtplib.SMTPNotSupportedError):
        return True
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


def _describe(exc: BaseException, settings: SmtpSettings) -> str:
    """The error as one line, with the password (plain or base64 as in AUTH) blanked out."""
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error
        text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
        described = f"{exc.smtp_code} {text}"
    else:
        described = str(exc) or type(exc).__name__
    described = f"{type(exc).__name__}: {' '.join(described.split())}"
    return _scrub(described, settings)


def _scrub(text: str, settings: SmtpSettings) -> str:
    """`text` without the password in any form the AUTH exchange might echo."""
    password = settings.password
    if not password:
        return text
    user = settings.user or ""
    forms = {
        password,
        base64.b64encode(password.encode()).decode(),
        base64.b64encode(f"\0{user}\0{password}".encode()).decode(),
    }
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "***")
    return text
