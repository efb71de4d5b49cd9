"""Time OTLP trace ingest through `aa-notebooks serve` on SQLite and PostgreSQL, beside the kit's
own tracker path in the same run.

Each agent run is 8 spans (GenAI conventions): invoke_agent; three chat calls with usage; two
execute_tool spans with arguments and results; two HTTP client spans (ignored). Runs are packed
64 to a request (512 spans, the OTel SDK BatchSpanProcessor's default batch) as OTLP protobuf,
encoded before the clock starts (an app's exporter pays that in its own process), and posted by
`--senders` threads over keep-alive connections to a server (`--workers` processes) on loopback. A
429/503 is retried after a short pause (counted: that is the back-pressure). The rate is runs
from the first request until the database holds them all; the server's peak resident memory is
read from /proc.

The tracker path: the same number of runs with the same rows (7 steps, 3 usages) through
`tracker.execution(...)` in this process, until flushed.

    python bench/otel.py                       # 20,000 runs, both databases
    python bench/otel.py --runs 5000 --skip-postgres
    python bench/otel.py --workers 2           # two server processes
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from pathlib import Path

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from sqlalchemy import text

from aa_notebooks.db.engine import dispose_engine, get_engine
from aa_notebooks.db.setup import init_db
from aa_notebooks.tracking import Tracker

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tracking import DEFAULT_ADMIN_URL, scratch_postgres

TOKEN = "bench-otel-admin-token-0123456789abcdef"
RUNS_PER_REQUEST = 64
SPANS_PER_RUN = 8
ROOT = Path(__file__).resolve().parents[1]


def _add(spans, trace: bytes, span_id: int, parent: int, name: str, start: int, end: int,
         **attributes: object) -> None:  # fmt: skip
    span = spans.add()
    span.trace_id, span.span_id = trace, span_id.to_bytes(8, "big")
    if parent:
        span.parent_span_id = parent.to_bytes(8, "big")
    span.name, span.start_time_unix_nano, span.end_time_unix_nano = name, start, end
    for key, value in attributes.items():
        pair = span.attributes.add()
        pair.key = key.replace("__", ".")
        if isinstance(value, int):
            pair.value.int_value = value
        else:
            pair.value.string_value = str(value)


def request_body(first_run: int, runs: int, now_ns: int) -> bytes:
    """One OTLP protobuf request holding `runs` agent runs of 8 spans."""
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    for index in range(first_run, first_run + runs):
        trace = uuid.uuid4().bytes
        t = now_ns + index * 1_000_000
        ms = 1_000_000
        _add(
            spans,
            trace,
            1,
            0,
            "invoke_agent Bench",
            t,
            t + 900 * ms,
            gen_ai__operation__name="invoke_agent",
            gen_ai__agent__name="Bench",
            user__id="1b4e28ba-2fa1-11d2-883f-0016d3cca427",
            session__id=f"s-{index % 100}",
        )
        for n, (start, model) in enumerate(((10, "gpt-4o-mini"), (300, "gpt-4o"), (600, "gpt-4o"))):
            _add(
                spans,
                trace,
                2 + n,
                1,
                f"chat {model}",
                t + start * ms,
                t + (start + 200) * ms,
                gen_ai__operation__name="chat",
                gen_ai__request__model=model,
                gen_ai__usage__input_tokens=1200,
                gen_ai__usage__output_tokens=300,
            )
        for n, start in enumerate((220, 520)):
            tool = 5 + 2 * n
            _add(
                spans,
                trace,
                tool,
                1,
                "execute_tool search",
                t + start * ms,
                t + (start + 60) * ms,
                gen_ai__operation__name="execute_tool",
                gen_ai__tool__name="search",
                gen_ai__tool__call__arguments='{"q": "bench"}',
                gen_ai__tool__call__result="three results",
            )
            _add(
                spans,
                trace,
                tool + 1,
                tool,
                "GET",
                t + (start + 5) * ms,
                t + (start + 50) * ms,
                http__request__method="GET",
            )
    return request.SerializeToString()  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def executions(url: str) -> int:
    with get_engine(url).connect() as connection:
        return connection.execute(text("SELECT COUNT(*) FROM agentexecutions")).scalar_one()


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set size (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def receiver_rate(url: str, runs: int, senders: int, workers: int) -> tuple[float, int, float]:
    """(runs/s through the receiver until committed, retried requests, server peak RSS MB of
    its largest process)."""
    init_db(url)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", "from aa_notebooks.cli import main; main()",
         "--db", url, "serve", "--port", str(port), "--workers", str(workers)],
        env={**os.environ, "AA_API_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}/v1/traces"
    headers = {"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {TOKEN}"}
    now = time.time_ns()
    bodies = [
        request_body(first, min(RUNS_PER_REQUEST, runs - first), now)
        for first in range(0, runs, RUNS_PER_REQUEST)
    ]
    retried = 0
    lock = threading.Lock()
    try:
        with httpx.Client() as client:
            for _ in range(300):
                try:
                    client.post(endpoint, content=request_body(runs, 1, now), headers=headers)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
        while executions(url) < 1:  # the warm-up run: the server's writer is up
            time.sleep(0.05)

        def send(share: list[bytes]) -> None:
            nonlocal retried
            with httpx.Client(timeout=60) as client:
                for body in share:
                    while client.post(endpoint, content=body, headers=headers).status_code in (
                        429, 503,
                    ):  # fmt: skip
                        with lock:
                            retried += 1
                        time.sleep(0.05)

        threads = [
            threading.Thread(target=send, args=(bodies[n::senders],)) for n in range(senders)
        ]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        while executions(url) < runs + 1:
            time.sleep(0.02)
        elapsed = time.perf_counter() - start
        peak = max(map(peak_rss_mb, [server.pid, *_children(server.pid)]))
    finally:
        server.terminate()
        server.wait(60)
        dispose_engine(url)
    return runs / elapsed, retried, peak


def tracker_rate(url: str, spool: Path, runs: int) -> float:
    """Runs/s of the same shape through `tracker.execution` blocks, until committed."""
    init_db(url)
    tracker = Tracker(url, spool_dir=spool, check_budgets=False)
    tracker.writer.flush()
    start = time.perf_counter()
    for _ in range(runs):
        with tracker.execution(agent_name="Bench", model="gpt-4o", query="how fast?") as run:
            for number, kind in enumerate(
                (
                    "thought",
                    "tool_call",
                    "observation",
                    "thought",
                    "tool_call",
                    "observation",
                    "final_answer",
                ),
                start=1,
            ):
                run.step(kind, f"{kind} of the agent", duration_ms=10, input_tokens=5,
                         output_tokens=5)  # fmt: skip
                if kind in ("thought", "final_answer"):
                    run.tokens("Bench", "gpt-4o", 1200, 300, step_number=number)
    tracker.flush()
    elapsed = time.perf_counter() - start
    tracker.close()
    dispose_engine(url)
    return runs / elapsed


def measure(name: str, otel_url: str, tracker_url: str, spool: Path, args) -> str:
    """One database's row of the table."""
    rate, retried, peak = receiver_rate(otel_url, args.runs, args.senders, args.workers)
    tracked = tracker_rate(tracker_url, spool, args.runs)
    return (
        f"| {name} | {args.runs:,} | {rate:,.0f} | {rate * SPANS_PER_RUN:,.0f} | {tracked:,.0f} | "
        f"{rate / tracked:.2f} | {retried} | {peak:.0f} |"
    )


def main() -> None:
    """Run the measurements and print them as a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20_000)
    parser.add_argument("--senders", type=int, default=4, help="exporting threads")
    parser.add_argument("--workers", type=int, default=1, help="`serve --workers`")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--postgres-url", default=os.environ.get("AA_BENCH_POSTGRES_URL"))
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print(f"load average before: {' '.join(f'{load:.2f}' for load in os.getloadavg())}\n")
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        otel_db, tracker_db = f"sqlite:///{folder / 'otel.db'}", f"sqlite:///{folder / 't.db'}"
        rows.append(measure("SQLite", otel_db, tracker_db, folder / "spool", args))
        if not args.skip_postgres:
            admin = args.postgres_url or DEFAULT_ADMIN_URL
            with scratch_postgres(admin) as otel_url, scratch_postgres(admin) as tracker_url:
                rows.append(measure("PostgreSQL", otel_url, tracker_url, folder / "spool", args))
    print("| database | runs | runs/s via OTLP | spans/s | runs/s via tracker | ratio | "
          "requests retried (429) | server peak RSS MB |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    print(f"\nload average after: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")


if __name__ == "__main__":
    main()
