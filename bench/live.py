"""Time live mode's tick at 1M executions in the window, on SQLite and PostgreSQL.

A tick is `LiveView.tick()`: the executions completed since the mark (the (completed_at, id)
index) added to the window's sums, bucket sums and sketch. Timed: opening the view (once per
full refresh), a tick that finds nothing, a tick that finds 10 new executions (inserted by the
bench between ticks, then deleted again so the database keeps its seeded count), and the
budgets panel's `budget_statuses` that a tick with new executions also reads.

The databases are those of bench/analytics.py (its seeding and reuse rules); `init_db` first
brings an older one up to the current schema (it adds ix_agentexecutions_completed_at_id).

    python bench/live.py                 # 1,000,000 executions, 90d window, both databases
    python bench/live.py --skip-sqlite --runs 10
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from _shared import analytics_bench, database_options, database_urls
from sqlalchemy import delete, insert

from aa_notebooks.analytics import connect
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import AgentExecution
from aa_notebooks.db.setup import init_db
from aa_notebooks.ui.budgets_panel import budget_statuses

NEW_PER_TICK = 10


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = work()
    return (time.perf_counter() - started) * 1000, result


def new_rows(now: Any, round_number: int) -> list[dict[str, Any]]:
    """NEW_PER_TICK executions completing after `now` (one round's worth)."""
    return [
        {
            "id": uuid.uuid4(), "request_id": uuid.uuid4(), "session_id": uuid.uuid4(),
            "agent_name": f"bench-live-{n % 3}", "model_name": "gpt-4o", "status": "success",
            "input_tokens": 100, "output_tokens": 20, "total_tokens": 120,
            "cost_usd": Decimal("0.001"), "execution_time_ms": 500 + n,
            "started_at": (now - timedelta(seconds=30)).replace(tzinfo=None),
            "completed_at": (now + timedelta(seconds=round_number, milliseconds=n)).replace(
                tzinfo=None
            ),
        }
        for n in range(NEW_PER_TICK)
    ]  # fmt: skip


def run(url: str, period: str, runs: int, now: Any) -> dict[str, float]:
    started = time.perf_counter()
    init_db(url)
    print(f"  schema current in {time.perf_counter() - started:.1f} s", flush=True)
    analytics = connect(url, now=lambda: now)
    window = analytics.window(period)
    opened, view = timed(lambda: analytics.live(window, "day"))
    assert view.overview().total_executions >= 1_000_000 or period != "90d"
    empty = [timed(view.tick)[0] for _ in range(runs)]
    engine, added, ticks, budgets = get_engine(url), [], [], []
    try:
        for round_number in range(1, runs + 1):
            rows = new_rows(now, round_number)
            with engine.begin() as connection:
                connection.execute(insert(AgentExecution), rows)
            added += [row["id"] for row in rows]
            elapsed, tick = timed(view.tick)
            assert len(tick.rows) == NEW_PER_TICK, len(tick.rows)
            ticks.append(elapsed)
            budgets.append(timed(lambda: budget_statuses(analytics))[0])
    finally:
        with engine.begin() as connection:
            connection.execute(delete(AgentExecution).where(AgentExecution.id.in_(added)))
    assert view.added == NEW_PER_TICK * runs
    return {
        "open (per full refresh)": opened,
        "tick, nothing new": statistics.median(empty),
        f"tick, {NEW_PER_TICK} new": statistics.median(ticks),
        "budget_statuses": statistics.median(budgets),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    database_options(parser)
    parser.add_argument("--period", default="90d", help="the window (90d holds all 1M)")
    parser.add_argument("--runs", type=int, default=10, help="timed ticks of each kind (median)")
    args = parser.parse_args()
    seeding = analytics_bench()
    urls = database_urls(args, seeding)
    results = {}
    for name, url in urls.items():
        print(name, flush=True)
        seeding.seeded(url, args.executions)
        results[name] = run(url, args.period, args.runs, seeding.NOW)
    print(f"\n{args.executions:,} executions, {args.period} window; median of {args.runs}\n")
    names = list(results)
    print("| step (ms) | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for step in next(iter(results.values())):
        print(f"| {step} | " + " | ".join(f"{results[n][step]:.1f}" for n in names) + " |")


if __name__ == "__main__":
    main()
