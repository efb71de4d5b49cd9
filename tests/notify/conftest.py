"""A real SMTP server on localhost for the notify tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.notify.smtp_server import Inbox, smtp_server


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    """The port of a running SMTP server and the inbox it fills."""
    with smtp_server() as running:
        yield running
