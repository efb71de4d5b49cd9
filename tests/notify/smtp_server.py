"""A real SMTP server on localhost for tests (aiosmtpd), keeping every message it accepts."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    """A port nothing listens on (bound, read and released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Inbox:
    """What the server received: parsed messages and their envelope recipients."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[list[str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        self.envelopes.append(list(envelope.rcpt_tos))
        return "250 Message accepted"


@dataclass
class Credentials:
    """Accepts exactly one user and password."""

    user: str
    password: str

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and (
            data.login.decode(),
            data.password.decode(),
        ) == (self.user, self.password)
        return AuthResult(success=ok, handled=False)


@contextmanager
def smtp_server(
    credentials: Credentials | None = None, port: int | None = None
) -> Iterator[tuple[int, Inbox]]:
    """Run a server on a localhost port (a free one by default); yields the port and inbox."""
    inbox = Inbox()
    options: dict[str, Any] = {}
    if credentials is not None:
        options = {"authenticator": credentials, "auth_require_tls": False}
    controller = Controller(inbox, hostname="127.0.0.1", port=port or free_port(), **options)
    controller.start()
    try:
        yield controller.port, inbox
    finally:
        controller.stop()
