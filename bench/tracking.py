"""Time recording through the batched writer on SQLite and PostgreSQL, and the decorator's cost.

Throughput: executions with 4 trace steps and 3 token usages each.
- writer: records built beforehand, handed to `BatchWriter.submit`, timed until `flush` returns
  (everything committed);
- tracker: the whole path agent code takes, `tracker.execution(...)` with its `run.step` and
  `run.tokens` calls, then `flush`: without the budget check (the recording alone), then with
  it, as the default Tracker runs, while a hard stop of another agent exists;
- processes: the tracker with the check in several processes side by side (default 2), each
  with its own default Tracker on the same database, as a deployment's worker processes record:
  their executions together per second, from the first start to the last flush (one process
  runs its agent code and its writer thread in one interpreter);
- baseline: the same records, one transaction per execution through the repositories
  (`AgentExecutionRepository.create` and friends, then commit).
Overhead: a trivial function called bare, then under `@track_agent`: without the hard-stop
check, with it and no budget, with it and one matching hard stop (an agent budget, not spent,
over the executions recorded above); the overhead is the difference per call. The calls run
back to back, so the writer thread records them meanwhile, in the same process; they are timed
in five rounds and the median round is shown, as one busy moment of a shared machine can double
a single round.

Overshoot: a hard stop of $1.00 on one agent, runs of $0.05 (gpt-4o, 20,000 input tokens), 8
threads sharing the default Tracker, each running until refused three times; runs take no time,
then 100 ms. Spent is what the database holds for that agent afterwards: anything past $1.00 is
the overshoot (within one run per thread is the bound: $0.35).

CPU per execution: in the tracker run with the check, the CPU this process used (agent code and
writer thread together; SQLite's own work runs in it too) and, for a PostgreSQL server on this
machine, the CPU its processes used, each divided by the executions. Their sum bounds the rate:
with every core busy and nothing lost to waiting, the machine's cores could record at most
cores / (process + server) executions per second; one process, whose Python runs one thread at
a time, stays below that. The process's CPU is also split by thread (Linux's /proc): the agent's
(the loop of `tracker.execution` blocks) and the writer's, the writer's also while the agent's
loop ran, which says how much of the writing overlapped the agent code.

The machine's load average is printed first and last: compare runs by their ratios to the
baseline measured in the same run.

    python bench/tracking.py                       # 20,000 executions, both databases
    python bench/tracking.py --executions 5000 --skip-postgres --processes 3

PostgreSQL: a scratch database is created and dropped with the admin URL (`--postgres-url`, else
$AA_BENCH_POSTGRES_URL, else the test server's).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from aa_notebooks.budgets import create_budget
from aa_notebooks.db.engine import dispose_engine, get_engine, session_factory
from aa_notebooks.db.repositories import (
    AgentExecutionRepository,
    ExecutionTraceRepository,
    TokenUsageRepository,
)
from aa_notebooks.db.schema import AgentExecution
from aa_notebooks.db.setup import init_db
from aa_notebooks.errors import BudgetExceededError
from aa_notebooks.tracking import BatchWriter, Run, Tracker, track_agent
from aa_notebooks.tracking.record import ExecutionRecord

DEFAULT_ADMIN_URL = "postgresql://aa_test:aa_test@127.0.0.1:5432/aa_test"
STEPS = ("thought", "action", "observation", "final_answer")
ROWS_PER_EXECUTION = 1 + len(STEPS) + 3


def record_run(run: Run) -> None:
    """What a typical agent records: 4 steps and 3 token usages."""
    for number, kind in enumerate(STEPS, start=1):
        run.step(kind, f"{kind} of the agent", duration_ms=10, input_tokens=5, output_tokens=5)
        if number <= 3:
            run.tokens("main_agent", "gpt-4o", 1200, 300, step_number=number)


def build(count: int) -> list[ExecutionRecord]:
    """Finished records, as the tracker hands them to the writer."""
    records = []
    for _ in range(count):
        run = Run(agent_name="bench", model="gpt-4o", query="how fast?")
        record_run(run)
        records.append(run.finish())
    return records


def writer_rate(url: str, spool: Path, count: int) -> float:
    """Executions per second through the batched writer, from submit to commit."""
    records = build(count)
    writer = BatchWriter(url, spool_dir=spool)
    writer.flush()  # started, schema checked: time the writing only
    start = time.perf_counter()
    for record in records:
        writer.submit(record)
    writer.flush()
    elapsed = time.perf_counter() - start
    writer.close()
    return count / elapsed


@dataclass(frozen=True)
class Rate:
    """Executions per second, and the CPU each execution took: in this process (agent code and
    writer thread together), in a local PostgreSQL server (None: not measured), and in the
    agent's and the writer's threads, the writer's also while the agent's loop ran (None: no
    /proc to read them from)."""

    per_s: float
    process_us: float
    server_us: float | None
    agent_us: float | None = None
    writer_us: float | None = None
    writer_during_us: float | None = None

    def ceiling(self, cores: int) -> float:
        """Executions per second that `cores` cores could give at most, were every one busy."""
        return cores / ((self.process_us + (self.server_us or 0.0)) / 1e6)


def tracker_rate(url: str, spool: Path, count: int, *, check: bool = False) -> Rate:
    """Executions per second through `tracker.execution` blocks, until all are committed; with
    `check`, each block first runs the hard-stop check (the default Tracker's)."""
    tracker = Tracker(url, spool_dir=spool, check_budgets=check)
    tracker.writer.flush()
    threads = (threading.get_native_id(), _writer_thread())
    server = server_cpu_s(url)
    before = [thread_cpu_s(thread) for thread in threads]
    cpu = time.process_time()
    start = time.perf_counter()
    for _ in range(count):
        with tracker.execution(agent_name="bench", model="gpt-4o", query="how fast?") as run:
            record_run(run)
    writer_during = thread_cpu_s(threads[1])
    tracker.flush()
    elapsed = time.perf_counter() - start
    process_us = (time.process_time() - cpu) / count * 1e6
    after = [thread_cpu_s(thread) for thread in threads]
    server_after = server_cpu_s(url)
    tracker.close()
    per_execution = [_per(count, early, late) for early, late in zip(before, after, strict=True)]
    return Rate(
        count / elapsed,
        process_us,
        _per(count, server, server_after),
        *per_execution,
        _per(count, before[1], writer_during),
    )


def _writer_thread() -> int | None:
    """The native id of the writer's thread (this process has one tracker open at a time)."""
    found = [t for t in threading.enumerate() if t.name == "aa-notebooks-writer"]
    return found[-1].native_id if len(found) == 1 else None


def _per(count: int, early: float | None, late: float | None) -> float | None:
    """CPU µs per execution between two readings of seconds; None when either is missing."""
    if early is None or late is None:
        return None
    return (late - early) / count * 1e6


def thread_cpu_s(native_id: int | None) -> float | None:
    """CPU seconds one thread of this process has used (Linux's /proc); None where unreadable."""
    try:
        text = Path(f"/proc/self/task/{native_id}/stat").read_text()
    except OSError:
        return None
    return _cpu_ticks(text) / os.sysconf("SC_CLK_TCK")


def server_cpu_s(url: str) -> float | None:
    """CPU seconds used so far by the processes of a PostgreSQL server on this machine (Linux's
    /proc; every `postgres` process counts, so run nothing else on it); None for SQLite, whose
    work is in the process itself, or a server elsewhere."""
    address = make_url(url)
    if address.get_backend_name() != "postgresql" or address.host not in LOCAL_HOSTS:
        return None
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended meanwhile
            continue
        if text[text.index("(") + 1 : text.rindex(")")].startswith("postgres"):
            ticks += _cpu_ticks(text)
    return ticks / os.sysconf("SC_CLK_TCK") if ticks else None


def _cpu_ticks(stat: str) -> int:
    """User plus system clock ticks of a /proc `stat` line (its fields after the name)."""
    utime, stime = stat[stat.rindex(")") + 2 :].split()[11:13]
    return int(utime) + int(stime)


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", None)


def processes_rate(url: str, spool: Path, count: int, processes: int) -> float:
    """Executions per second of `processes` processes running `tracker.execution` blocks with
    the hard-stop check, `count` in all, each with its own Tracker: from the first start to the
    last flush."""
    context = multiprocessing.get_context("spawn")
    ready, spans = context.Barrier(processes), context.Queue()
    share = count // processes
    workers = [
        context.Process(target=_share, args=(url, spool / f"p{n}", share, ready, spans))
        for n in range(processes)
    ]
    for worker in workers:
        worker.start()
    times = [spans.get() for _ in workers]
    for worker in workers:
        worker.join()
    return share * processes / (max(end for _, end in times) - min(start for start, _ in times))


def _share(url: str, spool: Path, count: int, ready: Any, spans: Any) -> None:
    """One process of `processes_rate`; its (start, end) on the machine's monotonic clock."""
    warnings.simplefilter("ignore")
    tracker = Tracker(url, spool_dir=spool)
    tracker.writer.flush()
    ready.wait()
    start = time.monotonic()
    for _ in range(count):
        with tracker.execution(agent_name="bench", model="gpt-4o", query="how fast?") as run:
            record_run(run)
    tracker.flush()
    spans.put((start, time.monotonic()))
    tracker.close()


def baseline_rate(url: str, count: int) -> float:
    """Executions per second, one transaction each through the repositories."""
    records = build(count)
    make_session = session_factory(url)
    start = time.perf_counter()
    for record in records:
        with make_session() as session:
            AgentExecutionRepository(session).create(record.execution, commit=False)
            for step in record.traces:  # a Run's rows leave their ids to the writer
                ExecutionTraceRepository(session).create(
                    {"execution_id": record.id, **step}, commit=False
                )
            for usage in record.usages:
                TokenUsageRepository(session).create(
                    {"execution_id": record.id, **usage}, commit=False
                )
            session.commit()
    return count / (time.perf_counter() - start)


def per_call_us(function: Callable[[], object], calls: int, rounds: int = 5) -> float:
    """Microseconds per call: the median of `rounds` rounds of `calls // rounds` calls each
    (after a warm-up)."""
    for _ in range(100):
        function()
    each = max(1, calls // rounds)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(each):
            function()
        times.append((time.perf_counter() - start) / each * 1e6)
    return statistics.median(times)


def decorator_overheads(url: str, spool: Path, calls: int) -> dict[str, float]:
    """Microseconds per call: bare, decorated, decorated with the hard-stop check (no budget,
    then one matching hard stop)."""

    def agent() -> int:
        return 42

    results = {"bare call": per_call_us(agent, calls)}
    cases = (
        ("@track_agent", False, False),
        ("@track_agent + hard-stop check, no budget", True, False),
        ("@track_agent + hard-stop check, 1 matching hard stop", True, True),
    )
    for label, check, budget in cases:
        if budget:
            create_budget(url, name="bench cap", scope="agent", target="bench",
                          threshold_usd=1_000_000, alert_type="hard_stop")  # fmt: skip
        tracker = Tracker(url, spool_dir=spool, check_budgets=check)
        results[label] = per_call_us(track_agent("bench", tracker=tracker)(agent), calls)
        tracker.close()
    return results


OVERSHOOT_WORKERS = 8
OVERSHOOT_THRESHOLD = Decimal("1.00")


def overshoot(url: str, spool: Path, run_s: float) -> Decimal:
    """Dollars spent by 8 threads against a $1.00 hard stop, runs of $0.05 taking `run_s`."""
    agent = f"racer-{uuid.uuid4().hex[:8]}"
    create_budget(url, name=agent, scope="agent", target=agent, period_days=1,
                  threshold_usd=OVERSHOOT_THRESHOLD, alert_type="hard_stop")  # fmt: skip
    tracker = Tracker(url, spool_dir=spool)
    start = threading.Barrier(OVERSHOOT_WORKERS)

    def worker() -> None:
        start.wait()
        refused = 0
        while refused < 3:
            try:
                with tracker.execution(agent_name=agent, model="gpt-4o") as run:
                    run.tokens("main_agent", "gpt-4o", 20_000, 0)
                    time.sleep(run_s)
            except BudgetExceededError:
                refused += 1

    threads = [threading.Thread(target=worker) for _ in range(OVERSHOOT_WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tracker.close()
    with get_engine(url).connect() as connection:
        query = select(func.sum(AgentExecution.cost_usd)).where(AgentExecution.agent_name == agent)
        return Decimal(connection.execute(query).scalar_one())


def measure(
    name: str, url: str, executions: int, baseline: int, calls: int, processes: int
) -> tuple[list[str], list[str], str]:
    """The Markdown rows for one database: throughput, overhead, and CPU per execution."""
    init_db(url)
    with tempfile.TemporaryDirectory() as spool:
        writer = writer_rate(url, Path(spool), executions)
        tracked = tracker_rate(url, Path(spool), executions)
        create_budget(url, threshold_usd=1, alert_type="hard_stop", scope="agent", target="other")
        checked = tracker_rate(url, Path(spool), executions, check=True)
        dispose_engine(url)  # the processes open their own
        side_by_side = processes_rate(url, Path(spool), executions, processes) if processes else 0
        base = baseline_rate(url, baseline)
        overheads = decorator_overheads(url, Path(spool), calls)
        spent = [overshoot(url, Path(spool), run_s) for run_s in (0.0, 0.1)]
    bare = overheads["bare call"]
    rows = [
        f"| {name} | batched writer | {executions:,} | {writer:,.0f} | "
        f"{writer * ROWS_PER_EXECUTION:,.0f} | {writer / base:.1f}x |",
        f"| {name} | tracker.execution, end to end | {executions:,} | {tracked.per_s:,.0f} | "
        f"{tracked.per_s * ROWS_PER_EXECUTION:,.0f} | {tracked.per_s / base:.1f}x |",
        f"| {name} | the same with the hard-stop check (another agent's hard stop) | "
        f"{executions:,} | {checked.per_s:,.0f} | {checked.per_s * ROWS_PER_EXECUTION:,.0f} | "
        f"{checked.per_s / base:.1f}x |",
    ]
    if processes:
        rows.append(
            f"| {name} | the same, {processes} processes side by side (together) | "
            f"{executions:,} | {side_by_side:,.0f} | {side_by_side * ROWS_PER_EXECUTION:,.0f} | "
            f"{side_by_side / base:.1f}x |"
        )
    rows += [
        f"| {name} | baseline: 1 transaction each | {baseline:,} | {base:,.0f} | "
        f"{base * ROWS_PER_EXECUTION:,.0f} | 1.0x |",
    ]
    overhead_rows = [
        f"| {name} | {label} | {us:,.1f} | {us - bare:,.1f} |" for label, us in overheads.items()
    ]
    overhead_rows += [
        f"| {name} | overshoot, 8 threads, {label} runs: spent | ${amount:.2f} | "
        f"${amount - OVERSHOOT_THRESHOLD:.2f} over |"
        for label, amount in zip(("instant", "100 ms"), spent, strict=True)
    ]
    dispose_engine(url)
    cores = os.cpu_count() or 1
    server = "in the process" if checked.server_us is None else f"{checked.server_us:,.0f}"
    cpu_row = (
        f"| {name} | {checked.process_us:,.0f} | {_us(checked.agent_us)} | "
        f"{_us(checked.writer_us)} | {_us(checked.writer_during_us)} | {server} | "
        f"{checked.ceiling(cores):,.0f} ({cores} cores) | {checked.per_s:,.0f} |"
    )
    return rows, overhead_rows, cpu_row


def _us(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


@contextmanager
def scratch_postgres(admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    name = f"aa_bench_tracking_{uuid.uuid4().hex[:8]}"
    admin = create_engine(
        make_url(admin_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        dispose_engine(url)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    """Run the measurements and print them as Markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=20_000)
    parser.add_argument("--baseline", type=int, default=2_000, help="executions for the baseline")
    parser.add_argument("--calls", type=int, default=5_000, help="calls for the overhead")
    parser.add_argument(
        "--processes", type=int, default=2, help="processes side by side (0: leave out)"
    )
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--postgres-url", default=os.environ.get("AA_BENCH_POSTGRES_URL"))
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print(f"load average before: {' '.join(f'{load:.2f}' for load in os.getloadavg())}\n")
    sizes = (args.executions, args.baseline, args.calls, args.processes)
    with tempfile.TemporaryDirectory() as directory:
        throughput, overhead, cpu_row = measure(
            "SQLite", f"sqlite:///{Path(directory) / 'b.db'}", *sizes
        )
    cpu = [cpu_row]
    if not args.skip_postgres:
        with scratch_postgres(args.postgres_url or DEFAULT_ADMIN_URL) as url:
            more_throughput, more_overhead, cpu_row = measure("PostgreSQL", url, *sizes)
        throughput += more_throughput
        overhead += more_overhead
        cpu.append(cpu_row)
    print("| database | path | executions | executions/s | rows/s | vs baseline |")
    print("|---|---|---:|---:|---:|---:|")
    print("\n".join(throughput))
    print("\n| database | call | µs per call | overhead µs |")
    print("|---|---|---:|---:|")
    print("\n".join(overhead))
    print(
        "\n| database | CPU µs per execution in the process | agent's thread | writer's thread "
        "| writer's, while the agent's loop ran | database server CPU µs "
        "| ceiling, every core busy (executions/s) | measured |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(cpu))
    print(f"\nload average after: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")


if __name__ == "__main__":
    main()
