"""Time what keeping the rollups current costs the batched writer, on SQLite and PostgreSQL.

`write_batch` of the same records (4 trace steps and 3 token usages each, batches of 500) into
a fresh kit database, and into a fresh one whose rollup tables and marking triggers were
dropped (the writer then skips the rollups, as in an AgentOS database), alternately, several
rounds. The ratio with / without is the share of its throughput the writer keeps while it keeps
the rollups current (the aim: at least 0.8). The records are built before the clock starts, so
only the writing is timed. They come from 6 agents, 3 models and 4 users (one in 20 failed),
all in the current hour, as a busy deployment records them: each batch adds to a few dozen
cells of each rollup table (one agent, model and user would make it one cell, a best case).

    python bench/rollup_upkeep.py                  # 10,000 executions, 3 rounds, both databases
    python bench/rollup_upkeep.py --executions 5000 --rounds 5 --skip-postgres

PostgreSQL: a scratch database per measurement, created and dropped with the admin URL
(`--postgres-url`, else $AA_BENCH_POSTGRES_URL, else the test server's).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from sqlalchemy import inspect, text
from tracking import DEFAULT_ADMIN_URL, build, scratch_postgres

from aa_notebooks.db.engine import dispose_engine, get_engine
from aa_notebooks.db.rollups.triggers import TRIGGER_PREFIX
from aa_notebooks.db.schema import ROLLUP_TABLES
from aa_notebooks.db.setup import init_db
from aa_notebooks.tracking.record import ExecutionRecord
from aa_notebooks.tracking.store import write_batch

BATCH = 500


def drop_rollups(url: str) -> None:
    """Remove the rollup tables and the triggers that mark changed hours for them."""
    engine = get_engine(url)
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            query = "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'"
        else:
            query = "SELECT tgname, tgrelid::regclass::text FROM pg_trigger"
        for name, table in connection.execute(text(query)).all():
            if name.startswith(TRIGGER_PREFIX):
                on = "" if engine.dialect.name == "sqlite" else f" ON {table}"
                connection.exec_driver_sql(f'DROP TRIGGER "{name}"{on}')
        for table in ROLLUP_TABLES:
            connection.exec_driver_sql(f'DROP TABLE IF EXISTS "{table}"')
    dispose_engine(url)


def spread(records: list[ExecutionRecord]) -> list[ExecutionRecord]:
    """The records as several agents, models and users record them, one in 20 failed."""
    users = [uuid.UUID(int=n + 1) for n in range(4)]
    for number, record in enumerate(records):
        row = record.execution
        row["agent_name"] = f"agent-{number % 6}"
        row["model_name"] = ("gpt-4o", "gpt-4o-mini", "claude-3-5-haiku-20241022")[number % 3]
        row["user_id"] = users[number % 4]
        if number % 20 == 0:
            row["status"] = "failure"
    return records


def writing_rate(url: str, executions: int, *, rollups: bool) -> float:
    """Executions per second written by `write_batch` into a fresh database at `url`."""
    init_db(url)
    if not rollups:
        drop_rollups(url)
    engine = get_engine(url)
    with engine.connect():
        pass  # a connection open before the clock starts
    if rollups != (set(ROLLUP_TABLES) <= set(inspect(engine).get_table_names())):
        raise RuntimeError("the database does not hold the rollups it should")
    records = spread(build(executions))
    start = time.perf_counter()
    for first in range(0, executions, BATCH):
        write_batch(engine, records[first : first + BATCH])
    elapsed = time.perf_counter() - start
    dispose_engine(url)
    return executions / elapsed


def measure(
    name: str, fresh: Callable[[], AbstractContextManager[str]], executions: int, rounds: int
) -> str:
    """One Markdown row: the medians with and without rollups, and their ratio."""
    rates: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(rounds):
        for rollups in (True, False):
            with fresh() as url:
                rates[rollups].append(writing_rate(url, executions, rollups=rollups))
    with_, without = statistics.median(rates[True]), statistics.median(rates[False])
    rounds_text = " / ".join(f"{rate:,.0f}" for rate in rates[True])
    return f"| {name} | {rounds_text} | {with_:,.0f} | {without:,.0f} | **{with_ / without:.2f}** |"


@contextmanager
def fresh_sqlite() -> Iterator[str]:
    """A new SQLite file, removed afterwards."""
    with tempfile.TemporaryDirectory() as directory:
        yield f"sqlite:///{Path(directory) / 'upkeep.db'}"


def main() -> None:
    """Measure both databases and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--postgres-url", default=os.environ.get("AA_BENCH_POSTGRES_URL"))
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{load:.2f}' for load in os.getloadavg())}\n")
    print("| database | with rollups, each round (exec/s) | with (median) | without (median) "
          "| with / without |")  # fmt: skip
    print("|---|---|---:|---:|---:|")
    print(measure("SQLite", fresh_sqlite, args.executions, args.rounds), flush=True)
    if not args.skip_postgres:
        admin = args.postgres_url or DEFAULT_ADMIN_URL
        print(measure("PostgreSQL", lambda: scratch_postgres(admin), args.executions, args.rounds))
    print(f"\nload average after: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")


if __name__ == "__main__":
    main()
