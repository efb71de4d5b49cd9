"""THE OUTAGE TEST: a real PostgreSQL server is stopped while an agent keeps recording, then
started again; every execution is in the database exactly once, with all its steps and usages.

It runs a private server (never the shared one): skipped where that cannot run (not root),
except under CI=true, where it must run and fails instead.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from pathlib import Path

import pytest

from aa_notebooks.db.engine import dispose_engine
from aa_notebooks.tracking import Tracker
from tests.tracking.conftest import counts, executions
from tests.tracking.private_postgres import available, private_postgres

pytestmark = pytest.mark.slow


def test_stopping_postgres_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    if reason := available():
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the outage test, but here it {reason}")
        pytest.skip(reason)

    with private_postgres() as server:
        tracker = Tracker(server.url, spool_dir=tmp_path / "spool", retry_interval_s=0.2)
        recorded: list[uuid.UUID] = []
        spooled = threading.Event()
        stop = threading.Event()

        def agent() -> None:
            """Record an execution (2 steps, 1 usage) every few milliseconds until told to stop."""
            while not stop.is_set():
                with tracker.execution(agent_name="steady", model="gpt-4o") as run:
                    run.step("thought", "plan", input_tokens=10, output_tokens=5)
                    run.tokens("main_agent", "gpt-4o", 1200, 300, step_number=1)
                    run.step("final_answer", "done")
                recorded.append(run.id)
                if tracker.writer.spooling:
                    spooled.set()
                time.sleep(0.003)

        worker = threading.Thread(target=agent)
        worker.start()
        try:
            time.sleep(0.5)
            before_outage = len(recorded)
            server.stop()
            time.sleep(1.5)
            during_outage = len(recorded) - before_outage
            server.start()
            time.sleep(1.0)
        finally:
            stop.set()
            worker.join()
        assert tracker.flush(timeout=60)
        tracker.close()

        assert before_outage > 0 and during_outage > 0 and spooled.is_set()
        ids = [row["id"] for row in executions(server.url)]
        assert len(ids) == len(set(ids)) == len(recorded)
        assert set(ids) == set(recorded)
        assert counts(server.url) == (len(recorded), 2 * len(recorded), len(recorded))
        dispose_engine(server.url)
