"""Time the overview and the dashboard breakdown through the rollups against the raw path.

For each window: `breakdown` (overview, top agents, cost by model) plus the previous window's
overview, as the dashboard refresh loads them, once with `exact=True` (raw rows only) and once
through the rollups, alternately, median of several runs; the two must give the same numbers
(percentiles within their stated bound). Then cost by user and by day (`cost_summary`) the same
way, whose tables must be equal. Seeds the database first when it is empty (the seed builds the
rollups in its transaction; the time is printed).

    python bench/rollups.py --url sqlite:////tmp/rollups-1m.db --executions 1000000
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pandas as pd
from sqlalchemy import func, select

from aa_notebooks.analytics import connect
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.rollups.check import check_rollups
from aa_notebooks.db.schema import AgentExecution
from aa_notebooks.db.setup import init_db
from aa_notebooks.seed import seed_database

NOW = datetime(2026, 12, 1, 12, 30, tzinfo=UTC)
PERIODS = ("24h", "7d", "30d", "90d")


def seeded(url: str, executions: int) -> None:
    """Seed `executions` over 90 days unless the database holds executions already."""
    init_db(url)
    with get_engine(url).connect() as connection:
        count = connection.execute(select(func.count()).select_from(AgentExecution)).scalar_one()
    if count:
        print(f"reusing {count:,} executions")
        return
    started = time.perf_counter()
    seed_database(url, executions=executions, days=90, now=NOW, progress=True)
    print(f"seeded {executions:,} executions with rollups in {time.perf_counter() - started:.0f} s")


def refresh(url: str, period: str, exact: bool) -> Any:
    """What a dashboard refresh asks of the analytics for one window (sequentially)."""
    client = connect(url, now=lambda: NOW)
    window = client.window(period, None, None)
    result = client.breakdown(window, exact=exact)
    return result, client.overview(window.previous(), unpriced=False, exact=exact)


def cost_table(url: str, period: str, by: str, exact: bool) -> pd.DataFrame:
    """Cost by `by` over the window, as `aa-notebooks costs --by` reads it."""
    return connect(url, now=lambda: NOW).cost_summary(period, by=by, exact=exact).frame


def alternated(runs: int, work: Callable[[bool], Any]) -> tuple[dict[bool, Any], float, float]:
    """`work(exact)` for exact True then False, `runs` times: the last results and the median
    milliseconds of the raw and the rollup runs."""
    times: dict[bool, list[float]] = {True: [], False: []}
    results: dict[bool, Any] = {}
    for _ in range(runs):
        for exact in (True, False):
            started = time.perf_counter()
            results[exact] = work(exact)
            times[exact].append(time.perf_counter() - started)
    return results, statistics.median(times[True]) * 1000, statistics.median(times[False]) * 1000


def numbers(result: Any) -> dict[str, Any]:
    overview = asdict(result.overview)
    for name in ("source", "percentile_bound", "p50_ms", "p95_ms", "p99_ms"):
        del overview[name]
    return overview


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--check", action="store_true", help="also time `rollups check`")
    args = parser.parse_args()
    seeded(args.url, args.executions)
    if args.check:
        started = time.perf_counter()
        report = check_rollups(get_engine(args.url))
        print(f"rollups check: {report.ok}, {time.perf_counter() - started:.1f} s")
    print(f"{'window':>6} {'raw ms':>9} {'rollup ms':>10} {'ratio':>6}  max percentile error")
    for period in PERIODS:
        results, raw_ms, fast_ms = alternated(args.runs, partial(refresh, args.url, period))
        raw, fast = results[True][0].overview, results[False][0].overview
        assert numbers(results[True][0]) == numbers(results[False][0]), period
        error = max(
            (
                abs(getattr(fast, n) - getattr(raw, n)) / getattr(raw, n)
                for n in ("p50_ms", "p95_ms", "p99_ms")
                if getattr(raw, n)
            ),
            default=0.0,
        )
        print(
            f"{period:>6} {raw_ms:9.0f} {fast_ms:10.0f} {raw_ms / fast_ms:5.1f}x  {error:.4%} "
            f"({fast.source}, bound {fast.percentile_bound})",
            flush=True,
        )
    print(f"\n{'cost by':>12} {'raw ms':>9} {'rollup ms':>10} {'ratio':>6}")
    for by in ("user", "day"):
        for period in PERIODS:
            work = partial(cost_table, args.url, period, by)
            tables, raw_ms, fast_ms = alternated(args.runs, work)
            pd.testing.assert_frame_equal(tables[True], tables[False])
            label = f"{by} {period}"
            print(f"{label:>12} {raw_ms:9.1f} {fast_ms:10.1f} {raw_ms / fast_ms:5.1f}x", flush=True)


if __name__ == "__main__":
    main()
