"""Send a message over SMTP, retrying an unreachable or busy server with exponential backoff.

Connection failures, disconnects and 4xx replies are retried; 5xx replies (bad credentials,
refused sender or recipients), a server without STARTTLS and TLS that fails are not, since
trying again cannot help. A message the server took for some recipients and refused for others
is sent again to those alone while the refusal is for now (a 4xx: greylisting, a full mailbox),
never to the others (they have it); the error names any it could not reach. A server that
does not answer in time (AA_SMTP_TIMEOUT for each reply, twice that for a whole attempt) is
tried twice at most: four waits of 30 s each kept a report or an alert run hanging for over two
minutes, and a server that sent a line now and then, for ever.
The password never appears in an error or a log line: texts built from server replies are
scrubbed of it.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import smtplib
import socket
import ssl
import threading
import time
from email.message import EmailMessage

from aa_notebooks.errors import AnalyticsError
from aa_notebooks.notify.settings import ENV_TIMEOUT, SmtpSettings

log = logging.getLogger(__name__)
_ATTEMPT_TIMEOUTS = 2
"""An attempt's whole exchange may take this many timeouts."""
_SILENT_ATTEMPTS = 2
"""Attempts a server that does not answer gets: waiting out its timeout again rarely helps."""


class EmailDeliveryError(AnalyticsError):
    """An email could not be sent; says which server, how many attempts and the last error."""

    def __init__(
        self,
        address: str,
        attempts: int,
        last_error: str,
        *,
        message_refused: bool = False,
        refused_recipients: tuple[str, ...] = (),
    ) -> None:
        self.address = address
        self.attempts = attempts
        self.last_error = last_error
        self.message_refused = message_refused
        """The server refused this message's content (a reply to DATA: too large, a word it
        filters), not the connection, the sender or the recipients: another may go through."""
        self.refused_recipients = refused_recipients
        """When set, the server took the message for the other recipients (they have it) and
        refused it for these: sending it again would send it to the others twice."""
        if refused_recipients:
            super().__init__(
                f"the email went out via {address}, but the server refused it for "
                f"{', '.join(refused_recipients)} ({last_error}); the other recipients have it. "
                "Check those addresses"
            )
            return
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        super().__init__(
            f"could not send email via {address} after {tries}: {last_error}; check "
            "AA_SMTP_HOST, AA_SMTP_PORT, AA_SMTP_SECURITY and the credentials, and that the "
            "server accepts connections"
        )

    @property
    def partly_delivered(self) -> bool:
        """Whether some recipients have the message (only `refused_recipients` do not)."""
        return bool(self.refused_recipients)


class _SomeRecipientsRefused(Exception):
    """The server took the message for some recipients and refused the others (smtplib only
    raises when it refuses them all)."""

    def __init__(self, refused: dict[str, tuple[int, bytes]]) -> None:
        super().__init__(refused)
        self.refused = refused


def send_email(
    message: EmailMessage, settings: SmtpSettings, *, retries: int = 3, backoff: float = 1.0
) -> None:
    """Send `message`; on failure wait backoff, 2*backoff, 4*backoff... for up to `retries` more
    tries, then raise EmailDeliveryError."""
    attempts = retries + 1
    silent = 0  # attempts the server did not answer in time
    pending: list[str] | None = None  # once some recipients have it: the ones still to reach
    refused: dict[str, tuple[int, bytes]] = {}  # recipients refused for good (a 5xx to RCPT)
    for attempt in range(1, retries + 2):
        try:
            _deliver(message, settings, pending)
        except (_SomeRecipientsRefused, smtplib.SMTPRecipientsRefused) as exc:
            replies = exc.refused if isinstance(exc, _SomeRecipientsRefused) else exc.recipients
            delivered = pending is not None or isinstance(exc, _SomeRecipientsRefused)
            later = sorted(address for address, (code, _) in replies.items() if code < 500)
            refused.update({a: reply for a, reply in replies.items() if a not in later})
            if later and attempt < attempts:  # greylisting, a full mailbox: those alone again
                log.warning(
                    "the mail server %s refused %s for now: trying again",
                    settings.address, ", ".join(later),
                )  # fmt: skip
                pending = later
                time.sleep(backoff * 2 ** (attempt - 1))
                continue
            if not delivered:  # nobody has it
                error = _describe(exc, settings)
                raise EmailDeliveryError(settings.address, attempt, error) from None
            refused.update({address: replies[address] for address in later})
            raise _partly(settings, attempt, refused) from None
        except (OSError, smtplib.SMTPException) as exc:
            error = _describe(exc, settings)
            if _timed_out(exc):
                silent += 1
                attempts = min(attempts, attempt + _SILENT_ATTEMPTS - silent)
                error += (
                    f" (the server did not answer in time: {ENV_TIMEOUT} is {settings.timeout:g} "
                    "s for each reply, twice that for a whole attempt)"
                )
            final = _permanent(exc) or attempt == attempts
            if final and pending is not None:  # the others have it: only these do not
                unsent = {address: (0, error.encode()) for address in pending}
                raise _partly(settings, attempt, {**refused, **unsent}) from None
            if _permanent(exc):
                message_refused = isinstance(exc, smtplib.SMTPDataError)
                raise EmailDeliveryError(
                    settings.address, attempt, error, message_refused=message_refused
                ) from None
            log.warning(
                "sending email via %s failed (attempt %d of %d): %s",
                settings.address, attempt, attempts, error,
            )  # fmt: skip
            if attempt == attempts:
                raise EmailDeliveryError(settings.address, attempt, error) from None
            time.sleep(backoff * 2 ** (attempt - 1))
        else:
            if refused:  # the others have it now; these were refused for good
                raise _partly(settings, attempt, refused)
            return


def _partly(
    settings: SmtpSettings, attempt: int, refused: dict[str, tuple[int, bytes]]
) -> EmailDeliveryError:
    """The error of a message the server took for some recipients and not for `refused`."""
    reasons = sorted({_reply(code, text) for code, text in refused.values()})
    return EmailDeliveryError(
        settings.address,
        attempt,
        _scrub("; ".join(reasons), settings),
        refused_recipients=tuple(sorted(refused)),
    )


def _deliver(
    message: EmailMessage, settings: SmtpSettings, recipients: list[str] | None = None
) -> None:
    """One attempt (`_exchange`), watched: it gets twice the timeout in all. The timeout bounds
    each read, so a server that keeps sending a little and never finishes a reply would hold it
    for ever; at the limit its socket is shut, and the attempt fails as timed out."""
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if settings.security == "ssl":
        client = smtplib.SMTP_SSL(timeout=settings.timeout, context=context)
    else:
        client = smtplib.SMTP(timeout=settings.timeout)
    # made without connecting, so that the watch below holds it from the first read; TLS
    # checks the certificate against the host given at construction, so it is set here
    client._host = settings.host  # type: ignore[attr-defined]  # smtplib's own attribute
    seconds = _ATTEMPT_TIMEOUTS * settings.timeout
    done, expired = threading.Event(), threading.Event()
    threading.Thread(target=_watch, args=(client, seconds, done, expired), daemon=True).start()
    try:
        _exchange(client, message, settings, context, recipients)
    except Exception as exc:  # a read on a socket shut under it may raise anything
        if expired.is_set() and not _timed_out(exc):
            raise TimeoutError(f"the exchange took over {seconds:g} s") from exc
        raise
    finally:
        done.set()


def _exchange(
    client: smtplib.SMTP,
    message: EmailMessage,
    settings: SmtpSettings,
    context: ssl.SSLContext,
    recipients: list[str] | None,
) -> None:
    """Connect, secure, log in, send (to `recipients`, else the message's own), say goodbye (a
    failure while saying goodbye is ignored)."""
    try:
        code, greeting = client.connect(settings.host, settings.port)
        if code != 220:  # as the constructor would check it: a 554 names the reason
            raise smtplib.SMTPConnectError(code, greeting)
        if settings.security == "starttls":
            client.starttls(context=context)
        if settings.user:
            client.login(settings.user, settings.password or "")
        if refused := client.send_message(message, to_addrs=recipients):
            raise _SomeRecipientsRefused(refused)
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()


def _watch(
    client: smtplib.SMTP, seconds: float, done: threading.Event, expired: threading.Event
) -> None:
    """After `seconds`, shut the attempt's socket until the attempt is over: the read it is
    blocked in returns at once (the socket may not be open yet when the time runs out)."""
    if done.wait(seconds):
        return
    expired.set()
    while not done.is_set():
        sock = getattr(client, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):  # the plain socket's: TLS state left as it is
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
        done.wait(0.05)


_CUT_SHORT_TLS = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)
"""TLS errors of a connection closed mid-handshake (a busy server): worth another try."""


def _timed_out(exc: BaseException) -> bool:
    """Whether the server did not answer in time (smtplib reports a timed-out reply as a
    disconnect, the timeout as its context)."""
    return isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError)


def _permanent(exc: BaseException) -> bool:
    """Whether trying again cannot help (5xx reply, refused recipients, no STARTTLS, TLS that
    fails: a plain server on the ssl port, a certificate that does not verify)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused | smtplib.SMTPNotSupportedError):
        return True
    if isinstance(exc, ssl.SSLError) and not isinstance(exc, _CUT_SHORT_TLS):
        return True
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


def _describe(exc: BaseException, settings: SmtpSettings) -> str:
    """The error as one line, with the password (plain or base64 as in AUTH) blanked out."""
    if isinstance(exc, smtplib.SMTPResponseException):
        described = _reply(exc.smtp_code, exc.smtp_error)
    else:
        described = str(exc) or type(exc).__name__
    described = f"{type(exc).__name__}: {' '.join(described.split())}"
    return _scrub(described, settings)


def _reply(code: int, text: bytes | str) -> str:
    """A server's reply as one line: its code and text."""
    words = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    return f"{code} {' '.join(words.split())}"


def _scrub(text: str, settings: SmtpSettings) -> str:
    """`text` without the password in any form the AUTH exchange might echo, nor as it reads
    once a reply's runs of spaces and tabs are made one space (`_reply`, `_describe`)."""
    password = settings.password
    if not password:
        return text
    user = settings.user or ""
    forms = {
        password,
        " ".join(password.split()),
        base64.b64encode(password.encode()).decode(),
        base64.b64encode(f"\0{user}\0{password}".encode()).decode(),
    } - {""}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "***")
    return text
