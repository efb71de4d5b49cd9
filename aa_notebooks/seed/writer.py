"""Writes a plan's executions chunk by chunk through the bulk fast path, with a progress bar.

With more than one chunk, a helper process generates the next chunk while this one writes
(generation and writing each take about half the time of a large seed). At most two chunks of
10,000 executions are held at a time, so memory stays flat.
"""

from __future__ import annotations

import marshal
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from subprocess import PIPE
from typing import IO

from sqlalchemy import Connection
from tqdm import tqdm

from aa_notebooks.db.bulk import insert_storage_rows
from aa_notebooks.db.schema import AgentExecution, ExecutionTrace, TokenUsage, table_of
from aa_notebooks.pricing.resolver import ENV_PRICING_FILE, active_price_file
from aa_notebooks.seed.generator import (
    EXECUTION_COLUMNS,
    TRACE_COLUMNS,
    USAGE_COLUMNS,
    Chunk,
    generate_chunk,
)
from aa_notebooks.seed.world import SeedPlan, World

FRAME_HEADER = 8
"""Bytes of the length that precedes each chunk the helper writes."""


@dataclass(frozen=True)
class Written:
    """Rows written per table."""

    executions: int
    traces: int
    usages: int


def write_executions(connection: Connection, plan: SeedPlan, *, progress: bool) -> Written:
    """Generate and insert every chunk of the plan inside the caller's transaction.

    The plan's world is built here even when a helper makes the chunks, so a bad price file
    raises its own error in this process.
    """
    world = World(plan)
    chunks = _helper_chunks(plan) if plan.chunks > 1 else _local_chunks(world)
    executions = traces = usages = 0
    with tqdm(total=plan.count, unit=" executions", desc="seeding", disable=not progress) as bar:
        for chunk in chunks:
            executions += insert_storage_rows(
                connection, table_of(AgentExecution), EXECUTION_COLUMNS, chunk.executions
            )
            traces += insert_storage_rows(
                connection, table_of(ExecutionTrace), TRACE_COLUMNS, chunk.traces
            )
            usages += insert_storage_rows(
                connection, table_of(TokenUsage), USAGE_COLUMNS, chunk.usages
            )
            bar.update(len(chunk.executions))
    return Written(executions, traces, usages)


def _local_chunks(world: World) -> Iterator[Chunk]:
    for index in range(world.plan.chunks):
        yield generate_chunk(world, index)


def _helper_chunks(plan: SeedPlan) -> Iterator[Chunk]:
    """The chunks in order, from a helper process that makes the next chunk while this one
    writes the current one. It imports from this process's sys.path and prices with its price
    file.
    """
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(path for path in sys.path if path),
        ENV_PRICING_FILE: active_price_file() or "",
    }
    command = [sys.executable, "-m", "aa_notebooks.seed.helper"]
    with subprocess.Popen(command, stdin=PIPE, stdout=PIPE, stderr=PIPE, env=environment) as helper:
        assert helper.stdin and helper.stdout and helper.stderr  # all three are PIPEs
        try:
            pickle.dump(plan, helper.stdin)
            helper.stdin.close()
            for _ in range(plan.chunks):
                size = int.from_bytes(_read(helper.stdout, FRAME_HEADER), "big")
                yield Chunk(*marshal.loads(_read(helper.stdout, size)))
        except EOFError:
            error = helper.stderr.read().decode(errors="replace").strip().splitlines()
            raise RuntimeError(
                f"the seed's helper process failed: {error[-1] if error else 'no message'}"
            ) from None
        finally:
            helper.kill()


def _read(stream: IO[bytes], size: int) -> bytes:
    """Exactly `size` bytes; EOFError when the helper stopped before writing them."""
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return data
