"""A process whose run is in flight when it is killed: `python -m tests.tracking.stalled_agent
URL SPOOL_DIR`. It starts run "doomed" with a tracker beating every 0.2 s, waits until the run
is marked as running in the database, prints the run's id and kills itself with SIGKILL."""

from __future__ import annotations

import os
import signal
import sys
import time

from sqlalchemy import select

from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import RunningExecution
from aa_notebooks.tracking import Tracker


def main() -> None:
    url, spool_dir = sys.argv[1], sys.argv[2]
    tracker = Tracker(url, spool_dir=spool_dir, check_budgets=False, heartbeat_every_s=0.2)
    with tracker.execution(agent_name="doomed", query="never ends") as run:
        deadline = time.monotonic() + 30
        query = select(RunningExecution.id).where(RunningExecution.id == run.id)
        while time.monotonic() < deadline:
            with get_engine(url).connect() as connection:
                if connection.execute(query).first() is not None:
                    break
            time.sleep(0.05)
        print(run.id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main()
