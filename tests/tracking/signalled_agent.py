"""An agent process for the signal tests: `python -m tests.tracking.signalled_agent URL SPOOL
FINISHED OPEN`. It records one run and flushes, says "warm", waits for "go" on stdin, finishes
FINISHED runs (their batch then waits on the database the test holds locked), opens OPEN runs
that never end (the last one in the main thread), says "ready", and sleeps until signalled."""

from __future__ import annotations

import sys
import threading
import time

from aa_notebooks.tracking import Tracker


def main() -> None:
    url, spool, finished, still_open = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    tracker = Tracker(url, spool_dir=spool, check_budgets=False, retry_interval_s=0.2)
    with tracker.execution(agent_name="warm-up") as run:
        run.tokens("main_agent", "gpt-4o", 1200, 300)
    assert tracker.flush(timeout=30)
    print("warm", flush=True)
    sys.stdin.readline()
    for _ in range(finished):
        with tracker.execution(agent_name="finished", model="gpt-4o") as run:
            run.step("thought", "plan")
            run.tokens("main_agent", "gpt-4o", 1200, 300, step_number=1)
    started = threading.Semaphore(0)

    def hang(name: str) -> None:
        with tracker.execution(agent_name=name) as run:
            run.step("thought", "waiting for ever")
            started.release()
            threading.Event().wait()

    for number in range(still_open - 1):
        threading.Thread(target=hang, args=(f"open-{number}",), daemon=True).start()
        started.acquire()
    with tracker.execution(agent_name="open-main"):
        print("ready", flush=True)
        time.sleep(120)


if __name__ == "__main__":
    main()
