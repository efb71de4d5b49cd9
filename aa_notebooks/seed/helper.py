"""The helper process of a large seed: reads a pickled SeedPlan on stdin, writes its chunks.

Run as `python -m aa_notebooks.seed.helper` by the writer. Chunks go to stdout in order, each as
an 8-byte length and a `marshal`led (executions, traces, usages) triple: both ends are the same
interpreter, and for plain tuples marshal costs half of what pickle does (read whole: marshal
reading from a pipe item by item is ten times slower). A subprocess rather than
multiprocessing, so the caller's `__main__` is never re-imported.
"""

from __future__ import annotations

import marshal
import pickle
import sys

from aa_notebooks.seed.generator import generate_chunk
from aa_notebooks.seed.world import World
from aa_notebooks.seed.writer import FRAME_HEADER


def main() -> None:
    """Generate every chunk of the plan read from stdin, in order."""
    world = World(pickle.load(sys.stdin.buffer))
    for index in range(world.plan.chunks):
        chunk = generate_chunk(world, index)
        frame = marshal.dumps((chunk.executions, chunk.traces, chunk.usages))
        sys.stdout.buffer.write(len(frame).to_bytes(FRAME_HEADER, "big") + frame)
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
