"""Hand-made runs for the journal tests, and a process that journals them and is then killed:
`python -m tests.tracking.journaling_agent DIRECTORY SCRIPT [FILE_SIZE_LIMIT]`.

SCRIPT is a word per step: `start:A` notes run A's start, `finish:A` its record, `settle:N` tells
the journal that the writer handled its first N records, `rotate:SIZE` makes journal files of
SIZE bytes that move on past half of that, `big` starts and finishes run BIG, whose step is
larger than a journal file. After the last step the process prints "journaled" (or the error
count) and kills itself with SIGKILL, as `kill -9` would.
"""

from __future__ import annotations

import logging
import os
import resource
import signal
import sys
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path

from aa_notebooks.tracking import journal as journal_module
from aa_notebooks.tracking.record import START_FIELDS, ExecutionRecord, Row

STARTED_AT = datetime(2025, 6, 1, 10, 0, 0, 250_000, tzinfo=UTC)
ALICE = uuid.UUID("a11ce000-0000-4000-8000-000000000001")
BIG_STEP_BYTES = 3 * 1024 * 1024


def run_id(name: str) -> uuid.UUID:
    """A fixed id per run name."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"run/{name}")


def start_row(name: str) -> Row:
    """What the journal keeps of run `name` at its start."""
    return {
        "id": run_id(name),
        "user_id": ALICE,
        "request_id": uuid.uuid5(uuid.NAMESPACE_URL, f"request/{name}"),
        "session_id": uuid.uuid5(uuid.NAMESPACE_URL, "session"),
        "agent_id": None,
        "agent_name": f"agent {name}",
        "agent_type": "react",
        "model_name": "gpt-4o",
        "flow_id": "support",
        "query_preview": f"what is {name}? ünïcode ✓",
        "started_at": STARTED_AT,
    }


def record(name: str) -> ExecutionRecord:
    """Run `name` finished: one step and one usage of $0.006000, 1.5 s after its start."""
    start = start_row(name)
    completed = datetime(2025, 6, 1, 10, 0, 1, 750_000, tzinfo=UTC)
    content = "x" * BIG_STEP_BYTES if name == "BIG" else f"thought of {name}\nwith a newline"
    execution = {
        **start,
        "status": "success",
        "input_tokens": 1200,
        "output_tokens": 300,
        "total_tokens": 1500,
        "cost_usd": Decimal("0.006000"),
        "execution_time_ms": 1500,
        "llm_time_ms": 700,
        "error_type": None,
        "error_message": None,
        "completed_at": completed,
    }
    step = {
        "id": uuid.uuid5(uuid.NAMESPACE_URL, f"step/{name}"),
        "execution_id": start["id"],
        "step_number": 1,
        "step_type": "thought",
        "content": content,
        "input_tokens": 1200,
        "output_tokens": 300,
        "duration_ms": 700,
        "timestamp": completed,
    }
    usage = {
        "id": uuid.uuid5(uuid.NAMESPACE_URL, f"usage/{name}"),
        "execution_id": start["id"],
        "component": "main_agent",
        "model": "gpt-4o",
        "input_tokens": 1200,
        "output_tokens": 300,
        "cost_usd": Decimal("0.006000"),
        "step_number": 1,
    }
    assert set(start) == set(START_FIELDS)
    return ExecutionRecord(execution, (step,), (usage,))


class Kept(logging.Handler):
    """Keeps the log records it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def main() -> None:
    directory, script = Path(sys.argv[1]), sys.argv[2].split()
    if len(sys.argv) > 3:
        limit = int(sys.argv[3])
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    kept = Kept()
    logging.getLogger(journal_module.__name__).addHandler(kept)
    journal = journal_module.Journal(directory)
    queued: list[uuid.UUID] = []
    for step in script:
        verb, _, argument = step.partition(":")
        if verb == "start":
            journal.started(start_row(argument))
        elif verb == "finish":
            journal.finished(record(argument), partial(queued.append, run_id(argument)))
        elif verb == "settle":
            journal.settle(int(argument))
        elif verb == "rotate":
            journal_module.CAPACITY = int(argument)
            journal_module.ROTATE_BYTES = int(argument) // 2
        elif verb == "big":
            journal.started(start_row("BIG"))
            journal.finished(record("BIG"), partial(queued.append, run_id("BIG")))
    errors = kept.records
    print("journaled" if not errors else f"{len(errors)} errors: {errors[0].getMessage()}")
    print(f"queued {len(queued)}", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main()
