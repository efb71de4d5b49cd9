"""Time `seed_database` on SQLite and PostgreSQL beside the generic insert path.

- `seed_database`, end to end (generation, pricing, writing, index rebuilds), into a scratch
  database, at `--executions`.
- On a smaller sample (`--baseline-executions`), rows made beforehand, written into a fresh
  scratch database two ways, each timed from the first row to the commit:
  `insert_storage_rows` (the fast path alone), and the generic path that
  `repository.bulk_insert(rows, validate=True)` takes (a pydantic record per row, then SQLAlchemy
  Core `connection.execute(table.insert(), dicts)` per 5,000).
Rows are executions, trace steps and token usages; "vs generic" divides rows/s by the generic
path's (so the end-to-end figure carries the generation the others do not).

    python bench/seed.py                                   # 1,000,000 executions, both databases
    python bench/seed.py --executions 100000 --skip-postgres
    python bench/seed.py --executions 10000000 --skip-sqlite   # 28 GB of disk

PostgreSQL: scratch databases are created and dropped with the admin URL (`--postgres-url`, else
$AA_BENCH_POSTGRES_URL, else the test server's).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from aa_notebooks.db.bulk import bulk_insert_rows, insert_storage_rows
from aa_notebooks.db.engine import dispose_engine, get_engine
from aa_notebooks.db.records import AgentExecutionCreate, ExecutionTraceCreate, TokenUsageCreate
from aa_notebooks.db.schema import AgentExecution, ExecutionTrace, TokenUsage
from aa_notebooks.db.setup import init_db
from aa_notebooks.seed import seed_database
from aa_notebooks.seed.generator import (
    EXECUTION_COLUMNS,
    TRACE_COLUMNS,
    USAGE_COLUMNS,
    Chunk,
    generate_chunk,
)
from aa_notebooks.seed.users import write_users
from aa_notebooks.seed.world import SeedPlan, World

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
DEFAULT_ADMIN_URL = "postgresql://aa_test:aa_test@127.0.0.1:5432/aa_test"
TABLES = (
    (AgentExecution.__table__, EXECUTION_COLUMNS, "executions", AgentExecutionCreate),
    (ExecutionTrace.__table__, TRACE_COLUMNS, "traces", ExecutionTraceCreate),
    (TokenUsage.__table__, USAGE_COLUMNS, "usages", TokenUsageCreate),
)
"""Table, columns of its rows, Chunk attribute holding them, record class validating them."""
UUID_COLUMNS = {"id", "user_id", "request_id", "session_id", "agent_id", "execution_id"}
TIME_COLUMNS = {"started_at", "completed_at", "timestamp"}


@dataclass(frozen=True)
class Timing:
    """Rows written and seconds taken by one path on one database."""

    rows: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


def seed(url: str, executions: int) -> Timing:
    """seed_database end to end: generation, pricing, writing, index rebuilds."""
    report = seed_database(url, executions=executions, now=NOW, progress=True)
    rows = report.executions + report.trace_steps + report.token_usages
    return Timing(rows, report.elapsed_seconds)


def sample(executions: int) -> list[Chunk]:
    """The rows of a smaller seed, made beforehand in storage form."""
    world = World(SeedPlan(seed=42, count=executions, now=NOW, days=90))
    return [generate_chunk(world, index) for index in range(world.plan.chunks)]


def fast_path(url: str, chunks: list[Chunk]) -> Timing:
    """insert_storage_rows alone, on rows made beforehand: the fast path beside the generic one."""
    engine = get_engine(url)
    with engine.begin() as connection:
        write_users(connection)
    started = time.perf_counter()
    with engine.begin() as connection:
        written = sum(
            insert_storage_rows(connection, table, columns, getattr(chunk, part))
            for chunk in chunks
            for table, columns, part, _ in TABLES
        )
    return Timing(written, time.perf_counter() - started)


def generic_path(url: str, chunks: list[Chunk]) -> Timing:
    """The generic path on the same rows as application values: pydantic records, then one Core
    executemany per 5,000 dicts."""
    values = [
        (table, record, _values(columns, getattr(chunk, part)))
        for chunk in chunks
        for table, columns, part, record in TABLES
    ]
    engine = get_engine(url)
    with engine.begin() as connection:
        write_users(connection)
    started = time.perf_counter()
    with engine.begin() as connection:
        written = sum(
            bulk_insert_rows(connection, table, (record(**row).model_dump() for row in rows))
            for table, record, rows in values
        )
    return Timing(written, time.perf_counter() - started)


def _values(columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Storage-form tuples back as the Python values an application would record."""
    converters: dict[str, Callable[[Any], Any]] = {
        **dict.fromkeys(UUID_COLUMNS, lambda v: uuid.UUID(v) if v else v),
        **dict.fromkeys(TIME_COLUMNS, lambda v: datetime.fromisoformat(v).replace(tzinfo=UTC)),
        "cost_usd": lambda v: Decimal(repr(v)),
    }
    convert = [converters.get(name, lambda v: v) for name in columns]
    return [
        {name: f(value) for name, f, value in zip(columns, convert, row, strict=True)}
        for row in rows
    ]


@contextmanager
def scratch_sqlite() -> Iterator[str]:
    """A SQLite file in a temporary directory, removed afterwards."""
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{Path(directory) / 'seed.db'}"
        init_db(url)
        yield url
        dispose_engine(url)


@contextmanager
def scratch_postgres(admin_url: str) -> Iterator[str]:
    """A new PostgreSQL database next to the admin URL's, dropped afterwards."""
    admin = make_url(admin_url).set(drivername="postgresql+psycopg")
    name = f"aa_bench_seed_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = admin.set(database=name).render_as_string(hide_password=False)
    try:
        init_db(url)
        yield url
    finally:
        dispose_engine(url)
        with engine.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()


def main() -> None:
    """Run both paths on each database and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=1_000_000, help="fast path size")
    parser.add_argument("--baseline-executions", type=int, default=20_000, help="baseline size")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("AA_BENCH_POSTGRES_URL", DEFAULT_ADMIN_URL),
        help="admin URL of a role with CREATEDB",
    )
    parser.add_argument("--skip-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--skip-sqlite", action="store_true", help="PostgreSQL only")
    args = parser.parse_args()

    databases: dict[str, Callable[[], Any]] = {}
    if not args.skip_sqlite:
        databases["SQLite"] = scratch_sqlite
    if not args.skip_postgres:
        databases["PostgreSQL"] = lambda: scratch_postgres(args.postgres_url)
    lines = [
        "| database | path | executions | rows | seconds | rows/s | vs generic |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    chunks = sample(args.baseline_executions)
    for name, scratch in databases.items():
        timings: dict[str, tuple[int, Timing]] = {}
        with scratch() as url:
            timings["seed_database, end to end"] = (args.executions, seed(url, args.executions))
        for path, run in (
            ("insert_storage_rows", fast_path),
            ("generic bulk_insert", generic_path),
        ):
            with scratch() as url:
                timings[path] = (args.baseline_executions, run(url, chunks))
        generic = timings["generic bulk_insert"][1].rows_per_second
        for path, (count, timing) in timings.items():
            lines.append(
                f"| {name} | {path} | {count:,} | {timing.rows:,} | {timing.seconds:.1f} "
                f"| {timing.rows_per_second:,.0f} | {timing.rows_per_second / generic:.1f}x |"
            )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
