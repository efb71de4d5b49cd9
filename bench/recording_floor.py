"""What recording one execution costs the CPU, part by part, and the rate that bounds.

Recording an execution takes CPU in three places that cannot share a core's time: the agent's
thread (a Run with 4 trace steps and 3 token usages, finished, and written as its journal line:
the least an agent thread does before it hands the record over; the hard-stop check and the
hand-off come on top), the writer (`write_batch` of 2,000-run batches into a fresh database) and,
for PostgreSQL, the database server's processes. Their sum bounds the rate: with every core
busy and nothing lost to waiting, `cores / sum` executions per second at most.

The writer is timed with the kit's schema as shipped (the baseline), then without each part of
the schema that every inserted row pays for: the foreign keys the data contract declares
(executions to users, steps and usages to executions), the secondary indexes of agentexecutions,
the triggers that keep the rollups current, and all three at once. The ratios say what each
part costs; the last variant is the floor of writing these rows at all. The agent is timed with
the garbage collector on (the records kept alive, as a backed-up writer queue keeps them) and
off.

    python bench/recording_floor.py                # both databases, 2 rounds
    python bench/recording_floor.py --skip-postgres --rounds 3

PostgreSQL: a scratch database per measurement, created and dropped with the admin URL
(`--postgres-url`, else $AA_BENCH_POSTGRES_URL, else the test server's); the server's CPU is
read from /proc, so it must run on this machine with nothing else on it.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from sqlalchemy import Engine, event, text
from tracking import DEFAULT_ADMIN_URL, build, record_run, scratch_postgres, server_cpu_s

from aa_notebooks.db.engine import dispose_engine, get_engine
from aa_notebooks.db.rollups.triggers import TRIGGER_PREFIX
from aa_notebooks.db.setup import init_db
from aa_notebooks.tracking import Run
from aa_notebooks.tracking.store import write_batch

BATCH = 2_000
CHILD_TABLES = ("agentexecutions", "executiontraces", "tokenusages")


def agent_us(count: int, *, collector: bool) -> float:
    """CPU µs per execution of the agent's part, the records kept until the end."""
    kept = []
    was_enabled = gc.isenabled()
    if not collector:
        gc.disable()
    try:
        start = time.process_time()
        for _ in range(count):
            run = Run(agent_name="bench", model="gpt-4o", query="how fast?")
            record_run(run)
            record = run.finish()
            record.to_line()
            kept.append(record)
        return (time.process_time() - start) / count * 1e6
    finally:
        if was_enabled:
            gc.enable()


def drop_foreign_keys(engine: Engine) -> None:
    """PostgreSQL: drop the constraints; SQLite: stop enforcing them on every connection."""
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", lambda dbapi, _: dbapi.execute("PRAGMA foreign_keys=OFF"))
        engine.dispose()
        return
    query = (
        "SELECT conrelid::regclass::text, conname FROM pg_constraint "
        "WHERE contype = 'f' AND conrelid::regclass::text = ANY(:tables)"
    )
    with engine.begin() as connection:
        found = connection.execute(text(query), {"tables": list(CHILD_TABLES)}).all()
        for table, name in found:
            connection.exec_driver_sql(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')


def drop_secondary_indexes(engine: Engine) -> None:
    """Every index of agentexecutions but its primary key."""
    if engine.dialect.name == "sqlite":
        query = (
            "SELECT name FROM sqlite_master WHERE type = 'index' "
            "AND tbl_name = 'agentexecutions' AND sql IS NOT NULL"
        )
    else:
        query = (
            "SELECT indexname FROM pg_indexes WHERE tablename = 'agentexecutions' "
            "AND indexname <> 'agentexecutions_pkey'"
        )
    with engine.begin() as connection:
        for (name,) in connection.execute(text(query)).all():
            connection.exec_driver_sql(f'DROP INDEX "{name}"')


def drop_rollup_triggers(engine: Engine) -> None:
    """The triggers on the three tables that mark changed hours for the rollups."""
    if engine.dialect.name == "sqlite":
        query = "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'"
    else:
        query = "SELECT tgname, tgrelid::regclass::text FROM pg_trigger WHERE NOT tgisinternal"
    with engine.begin() as connection:
        for name, table in connection.execute(text(query)).all():
            if name.startswith(TRIGGER_PREFIX) and table in CHILD_TABLES:
                on = "" if engine.dialect.name == "sqlite" else f' ON "{table}"'
                connection.exec_driver_sql(f'DROP TRIGGER "{name}"{on}')


VARIANTS: dict[str, tuple[Callable[[Engine], None], ...]] = {
    "schema as shipped (baseline)": (),
    "without the foreign keys": (drop_foreign_keys,),
    "without agentexecutions' secondary indexes": (drop_secondary_indexes,),
    "without the rollup triggers": (drop_rollup_triggers,),
    "without all three": (drop_foreign_keys, drop_secondary_indexes, drop_rollup_triggers),
}


def writer_us(url: str, executions: int, changes: tuple[Callable[[Engine], None], ...]) -> tuple[
    float, float | None
]:  # fmt: skip
    """CPU µs per execution of `write_batch` into a fresh database: this process, the server."""
    init_db(url)
    engine = get_engine(url)
    for change in changes:
        change(engine)
    records = build(BATCH + executions)
    write_batch(engine, records[:BATCH])  # connections open, caches filled
    server = server_cpu_s(url)
    start = time.process_time()
    for first in range(BATCH, BATCH + executions, BATCH):
        write_batch(engine, records[first : first + BATCH])
    process_us = (time.process_time() - start) / executions * 1e6
    server_after = server_cpu_s(url)
    dispose_engine(url)
    if server is None or server_after is None:
        return process_us, None
    return process_us, (server_after - server) / executions * 1e6


@contextmanager
def fresh_sqlite() -> Iterator[str]:
    """A new SQLite file, removed afterwards."""
    with tempfile.TemporaryDirectory() as directory:
        yield f"sqlite:///{Path(directory) / 'floor.db'}"


def measure(
    name: str, fresh: Callable[[], AbstractContextManager[str]], executions: int, rounds: int
) -> dict[str, tuple[float, float]]:
    """Print one database's rows (variants alternated, medians of the rounds); return each
    variant's writer and server µs."""
    times: dict[str, list[tuple[float, float | None]]] = {label: [] for label in VARIANTS}
    for _ in range(rounds):
        for label, changes in VARIANTS.items():
            with fresh() as url:
                times[label].append(writer_us(url, executions, changes))
    medians = {}
    for label, rows in times.items():
        writer = statistics.median(process for process, _ in rows)
        servers = [server for _, server in rows if server is not None]
        medians[label] = (writer, statistics.median(servers) if servers else 0.0)
    base = sum(medians["schema as shipped (baseline)"])
    for label, (writer, server) in medians.items():
        shown = f"{server:.0f}" if server else "in the process"
        print(f"| {name} | {label} | {writer:.0f} | {shown} | {(writer + server) / base:.2f} |")
    return medians


def main() -> None:
    """Measure, and print Markdown tables: the writer's variants, then the bound."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=10_000, help="per writer measurement")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--postgres-url", default=os.environ.get("AA_BENCH_POSTGRES_URL"))
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    print(f"load average before: {' '.join(f'{load:.2f}' for load in os.getloadavg())}\n")
    agents = {
        on: statistics.median(agent_us(args.executions, collector=on) for _ in range(args.rounds))
        for on in (True, False)
    }
    print("| database | schema | writer CPU µs / execution | server CPU µs | vs baseline |")
    print("|---|---|---:|---:|---:|")
    databases = {"SQLite": measure("SQLite", fresh_sqlite, args.executions, args.rounds)}
    if not args.skip_postgres:
        admin = args.postgres_url or DEFAULT_ADMIN_URL
        databases["PostgreSQL"] = measure(
            "PostgreSQL", lambda: scratch_postgres(admin), args.executions, args.rounds
        )
    print(f"\nagent thread, CPU µs / execution: {agents[True]:.0f} with the garbage collector, "
          f"{agents[False]:.0f} without\n")  # fmt: skip
    print(f"| database | schema | agent + writer + server µs | at most, {cores} cores (exec/s) |")
    print("|---|---|---:|---:|")
    for name, medians in databases.items():
        for label in ("schema as shipped (baseline)", "without all three"):
            writer, server = medians[label]
            for on, collector in ((True, "collector on"), (False, "collector off")):
                total = agents[on] + writer + server
                print(
                    f"| {name} | {label}, {collector} | {total:.0f} | {cores / total * 1e6:,.0f} |"
                )
    print(f"\nload average after: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")


if __name__ == "__main__":
    main()
