"""A real SMTP server on localhost for tests (aiosmtpd), keeping every message it accepts."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
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
class Filtering(Inbox):
    """An inbox whose server refuses (554) every message that holds `word`, as a content
    filter does."""

    word: str = "casino"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.word.encode() in envelope.content:
            return "554 5.7.1 Message content rejected"
        return await super().handle_DATA(server, session, envelope)


@dataclass
class RefusingSome(Inbox):
    """An inbox whose server refuses (550) every recipient whose address starts with `prefix`,
    as one for an address that does not exist; it takes the message for the others."""

    prefix: str = "bad"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith(self.prefix):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@dataclass
class Greylisting(Inbox):
    """An inbox whose server refuses (451, for now) each recipient whose address starts with
    `prefix` the first `times` times it is offered, as greylisting does."""

    prefix: str = "grey"
    times: int = 1
    offered: dict[str, int] = field(default_factory=dict)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        self.offered[address] = self.offered.get(address, 0) + 1
        if address.startswith(self.prefix) and self.offered[address] <= self.times:
            return "451 4.7.1 Greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


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
    credentials: Credentials | None = None,
    port: int | None = None,
    starttls: ssl.SSLContext | None = None,
    inbox: Inbox | None = None,
) -> Iterator[tuple[int, Inbox]]:
    """Run a server on a localhost port (a free one by default); yields the port and inbox.
    With `starttls`, the server requires STARTTLS with that context."""
    inbox = Inbox() if inbox is None else inbox
    options: dict[str, Any] = {}
    if credentials is not None:
        options = {"authenticator": credentials, "auth_require_tls": False}
    if starttls is not None:
        options |= {"tls_context": starttls, "require_starttls": True}
    controller = Controller(inbox, hostname="127.0.0.1", port=port or free_port(), **options)
    controller.start()
    try:
        yield controller.port, inbox
    finally:
        controller.stop()


@contextmanager
def stalling_server(
    drip_every_s: float | None = None, greeting: bytes | None = None
) -> Iterator[tuple[int, list[float]]]:
    """A server that accepts connections and never finishes its greeting: silent, or sending a
    greeting's continuation line (`220-`) every `drip_every_s` seconds; or that sends
    `greeting` and closes. Yields the port and the times connections were accepted."""
    accepted: list[float] = []
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0), backlog=16)
    listener.settimeout(0.05)

    def serve() -> None:
        held = []
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                connection = None
            if connection is not None:
                accepted.append(time.monotonic())
                if greeting is not None:
                    with suppress(OSError):
                        connection.sendall(greeting)
                    connection.close()
                    continue
                held.append(connection)
            if drip_every_s is not None:
                for connection in held:
                    with suppress(OSError):
                        connection.sendall(b"220-still starting\r\n")
                stop.wait(drip_every_s)
        for connection in held:
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join()
        listener.close()


def self_signed_tls(directory: Path) -> ssl.SSLContext:
    """A server TLS context with a new self-signed certificate for 127.0.0.1, which no client
    trusts."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1)).not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    (directory / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    return context
