"""SMTP settings from the environment: secrets stay out of notebooks, parameters and logs."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Literal

from aa_notebooks.errors import ConfigurationError

Security = Literal["starttls", "ssl", "none"]
SECURITY_CHOICES: tuple[Security, ...] = ("starttls", "ssl", "none")
PORT_FOR_SECURITY: dict[Security, int] = {"ssl": 465, "starttls": 587, "none": 25}
ENV_HOST, ENV_PORT, ENV_USER = "AA_SMTP_HOST", "AA_SMTP_PORT", "AA_SMTP_USER"
ENV_PASSWORD, ENV_FROM, ENV_SECURITY = "AA_SMTP_PASSWORD", "AA_SMTP_FROM", "AA_SMTP_SECURITY"
ENV_TIMEOUT = "AA_SMTP_TIMEOUT"
DEFAULT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the mail server; `password` never shows in repr, errors or logs."""

    host: str
    sender: str
    port: int = 587
    security: Security = "starttls"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT_S
    """Seconds to wait for each reply of the server."""

    @property
    def address(self) -> str:
        """host:port, for messages."""
        return f"{self.host}:{self.port}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SmtpSettings:
        """Read the AA_SMTP_* variables; ConfigurationError names what is missing or malformed.

        Without AA_SMTP_SECURITY, port 465 means ssl, port 25 none and any other port starttls;
        without AA_SMTP_PORT, the security's usual port is used (starttls and 587 when neither).
        AA_SMTP_TIMEOUT is how many seconds to wait for each reply (default 30).
        """
        env = os.environ if environ is None else environ
        host, sender = env.get(ENV_HOST, "").strip(), env.get(ENV_FROM, "").strip()
        missing = [name for name, value in ((ENV_HOST, host), (ENV_FROM, sender)) if not value]
        if missing:
            raise ConfigurationError(
                f"email is not configured: set {' and '.join(missing)} "
                f"(and {ENV_PORT}, {ENV_USER}, {ENV_PASSWORD}, {ENV_SECURITY} as needed)"
            )
        if not _an_address(sender):
            raise ConfigurationError(
                f"{ENV_FROM} must be an email address like reports@example.com or "
                f"'Reports <reports@example.com>'; got {sender!r}"
            )
        port = _port(env.get(ENV_PORT, "").strip())
        security = _security(env.get(ENV_SECURITY, "").strip().lower(), port)
        return cls(
            host=host,
            sender=sender,
            port=port if port is not None else PORT_FOR_SECURITY[security],
            security=security,
            user=env.get(ENV_USER, "").strip() or None,
            password=env.get(ENV_PASSWORD) or None,
            timeout=_timeout(env.get(ENV_TIMEOUT, "").strip()),
        )


def _an_address(sender: str) -> bool:
    """Whether `sender` is an address ("a@x.org", "Reports <a@x.org>", "alerts@localhost", a
    quoted local part), as loosely as relays take it: something on either side of an @."""
    address = parseaddr(sender)[1]
    local, at, domain = address.rpartition("@")
    return bool(at and local and domain) and not any(c.isspace() for c in domain)


def _port(text: str) -> int | None:
    """The port number in AA_SMTP_PORT, or None when unset."""
    if not text:
        return None
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ConfigurationError(f"{ENV_PORT} must be a port number (1-65535), got {text!r}")
    return int(text)


def _timeout(text: str) -> float:
    """The seconds in AA_SMTP_TIMEOUT, or the default when unset."""
    if not text:
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= 3600:
        raise ConfigurationError(
            f"{ENV_TIMEOUT} must be a number of seconds (more than 0, at most 3600), got {text!r}"
        )
    return seconds


def _security(text: str, port: int | None) -> Security:
    """The AA_SMTP_SECURITY value, or the usual one for the port."""
    if not text:
        return "ssl" if port == 465 else "none" if port == 25 else "starttls"
    if text not in SECURITY_CHOICES:
        raise ConfigurationError(
            f"{ENV_SECURITY} must be one of {', '.join(SECURITY_CHOICES)}, got {text!r}"
        )
    return text
