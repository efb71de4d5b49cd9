"""Signal handlers: installed from the main thread; a writer started elsewhere says how."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import pytest

from aa_notebooks.tracking import flush_on_signals, shutdown


class Writer:
    """Stands for a BatchWriter: what the handlers call."""

    def stopping(self, cut_off: str | None, timeout: float) -> None:
        """Nothing to record."""

    def flush(self, timeout: float | None = None) -> bool:
        return True


def in_a_thread(work: Callable[[], object]) -> list[BaseException]:
    raised: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as error:  # handed to the test
            raised.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return raised


def test_a_writer_started_outside_the_main_thread_says_how_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(shutdown, "_installed", False)
    monkeypatch.setattr(shutdown, "_warned", False)
    writer = Writer()
    with caplog.at_level(logging.WARNING, logger=shutdown.__name__):
        assert in_a_thread(lambda: shutdown.watch(writer)) == []
        assert in_a_thread(lambda: shutdown.watch(writer)) == []
    said = [r.getMessage() for r in caplog.records if "outside the main thread" in r.getMessage()]
    assert len(said) == 1
    assert "aa_notebooks.tracking.flush_on_signals()" in said[0]
    assert shutdown._installed is False


def test_flush_on_signals_outside_the_main_thread_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shutdown, "_installed", False)
    raised = in_a_thread(flush_on_signals)
    assert [str(error) for error in raised] == [
        "signal handlers can only be installed from the main thread"
    ]
