"""What PostgreSQL's trigram index on query previews costs recording.

Two scratch databases made by `init_db`, one with the pg_trgm index (`search-index enable`) and
one without; the same finished records (4 steps and 3 usages each, a 150-character query
preview as agents send them) go through the batched writer into each, alternately, three rounds;
the median rate of each is printed with their ratio.

    python bench/search_index.py                  # 10,000 executions a round
    python bench/search_index.py --executions 2000
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

from tracking import DEFAULT_ADMIN_URL, record_run, scratch_postgres

from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.search_index import enable_search_index
from aa_notebooks.db.setup import init_db
from aa_notebooks.tracking import BatchWriter, Run
from aa_notebooks.tracking.record import ExecutionRecord

PREVIEW = ("Summarise the quarterly report for the sales team and list the three biggest risks "
           "with their owners, then draft an email to the customer")  # fmt: skip


def build(count: int) -> list[ExecutionRecord]:
    """Finished records with a realistic query preview."""
    records = []
    for number in range(count):
        run = Run(agent_name="bench", model="gpt-4o", query=f"{PREVIEW} #{number}")
        record_run(run)
        records.append(run.finish())
    return records


def rate(url: str, spool: Path, count: int) -> float:
    """Executions per second through the batched writer, from submit to commit."""
    records = build(count)
    writer = BatchWriter(url, spool_dir=spool)
    writer.flush()
    start = time.perf_counter()
    for record in records:
        writer.submit(record)
    writer.flush()
    elapsed = time.perf_counter() - start
    writer.close()
    return count / elapsed


def main() -> None:
    """Time both databases alternately and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=10_000)
    parser.add_argument("--postgres-url", default=os.environ.get("AA_BENCH_POSTGRES_URL"))
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    admin = args.postgres_url or DEFAULT_ADMIN_URL
    print(f"load average before: {' '.join(f'{load:.2f}' for load in os.getloadavg())}\n")
    rates: dict[str, list[float]] = {"with the index": [], "without": []}
    with scratch_postgres(admin) as indexed, scratch_postgres(admin) as plain:
        for url in (indexed, plain):
            init_db(url)
        enable_search_index(get_engine(indexed))
        with tempfile.TemporaryDirectory() as directory:
            for round_ in range(3):
                for label, url in (("with the index", indexed), ("without", plain)):
                    spool = Path(directory) / f"{label}-{round_}"
                    rates[label].append(rate(url, spool, args.executions))
    with_index, without = (statistics.median(rates[k]) for k in ("with the index", "without"))
    print("| PostgreSQL | executions/s (median of 3) |")
    print("|---|---:|")
    print(f"| without the index | {without:,.0f} |")
    print(f"| with the pg_trgm index | {with_index:,.0f} |")
    print(f"| ratio | {with_index / without:.2f} |")
    print(f"\nload average after: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")


if __name__ == "__main__":
    main()
