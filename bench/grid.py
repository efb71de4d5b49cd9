"""Time the executions grid's pages at 1M executions on SQLite and PostgreSQL.

A page is what the grid's front end asks for while the user scrolls: 50 rows from an offset,
answered by `ExecutionsGrid.answer` (the SQL through `ExecutionRows`, then the formatting), the
way the kernel answers the browser. Each case makes a new grid (a new list, counted once), then
times pages at offsets from the top to the bottom of a 90d window holding every execution,
sorted by start time and by cost, filtered by status, by a text search and by a cost range, and
narrowed to a brushed day. A "jump" page is far from any row read before (the list seeks from
its start or its end); a "scroll" page follows the one before it (it seeks from a known row).
A list sorted by time shows its first 1,000 rows at once and counts the rest in the background
(timed until the grid has the total); each list then walks itself in the background, marking
positions up to 10,000 rows apart: the time that walk takes, and a jump once it is done, are
timed too.
The baseline reads that next page with `Analytics.executions(offset=...)`: one LIMIT/OFFSET
query (plus its count), stepping over every row before it, as a grid without row seeking would.

The databases are bench/analytics.py's (seeded once at its fixed NOW and kept for reruns).

    python bench/grid.py                        # 1,000,000 executions, both databases
    python bench/grid.py --executions 100000 --skip-postgres
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import timedelta
from typing import Any

from _shared import analytics_bench, database_options, database_urls

from aa_notebooks.analytics import Analytics, Window, connect
from aa_notebooks.db.engine import dispose_engine, get_engine
from aa_notebooks.db.migrations import migrate
from aa_notebooks.db.search_index import enable_search_index
from aa_notebooks.ui import ExecutionsGrid

PAGE = 50
CASES: dict[str, dict[str, Any]] = {
    "newest first": {},
    "by cost, highest first": {"sort_by": "cost_usd", "sort_order": "desc"},
    "by duration, shortest first": {"sort_by": "execution_time_ms", "sort_order": "asc"},
    "status failure": {"filters": {"status": "failure"}},
    "search 'report'": {"filters": {"search": "report"}},
    "cost $0.01-$0.02, by cost": {
        "filters": {"min_cost": "0.01", "max_cost": "0.02"},
        "sort_by": "cost_usd",
        "sort_order": "asc",
    },
}


def page_ms(grid: ExecutionsGrid, offset: int, runs: int) -> float:
    """Median milliseconds to answer one page request at `offset` (as the browser sends it)."""
    request = {"kind": "rows", "offset": offset, "limit": PAGE, "version": grid.version}
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        reply = grid.answer(request)
        times.append((time.perf_counter() - started) * 1000)
        assert reply is not None and "error" not in reply, reply
        assert len(reply["rows"]) == min(PAGE, max(0, grid.total - offset))
    return statistics.median(times)


def timings(analytics: Analytics, window: Window, case: dict[str, Any], runs: int) -> list[float]:
    """List (ms), first page, the exact count (background); then, on counted lists, pages:
    jump to the middle, scroll on from it, jump to the last; then the background walk that
    marks positions, and a jump once it is done."""
    started = time.perf_counter()
    grid = ExecutionsGrid(analytics, window, **_traits(case))
    listed = (time.perf_counter() - started) * 1000
    assert not grid.error, grid.error
    first = page_ms(grid, 0, runs)
    counting = counted_ms(grid, started)
    middle = grid.total // 2 // PAGE * PAGE
    last = max(0, (grid.total - 1) // PAGE * PAGE)
    jumped = ExecutionsGrid(analytics, window, **_traits(case))
    counted_ms(jumped, time.perf_counter())
    jump = page_ms(jumped, middle, 1)
    scroll = page_ms(jumped, middle + PAGE, runs) if grid.total > middle + PAGE else 0.0
    end_grid = ExecutionsGrid(analytics, window, **_traits(case))
    counted_ms(end_grid, time.perf_counter())
    end = page_ms(end_grid, last, 1)
    mapped = ExecutionsGrid(analytics, window, **_traits(case))
    assert mapped.listing is not None
    started = time.perf_counter()
    mapped.listing.wait_mapped()
    walk = (time.perf_counter() - started) * 1000
    third = grid.total // 3 // PAGE * PAGE + 7  # a position no page was read at, nor marked
    jump_mapped = page_ms(mapped, third, 1) if grid.total > third else 0.0
    traits = _traits(case)
    started = time.perf_counter()
    analytics.executions(  # the baseline: the same page as one plain LIMIT/OFFSET query
        1,
        PAGE,
        period=window,
        offset=middle + PAGE,
        sort_by=traits["sort_by"],
        sort_order=traits["sort_order"],
        **traits["filters"],
    )
    offset_page = (time.perf_counter() - started) * 1000
    return [grid.total, listed, first, counting, jump, scroll, end, walk, jump_mapped, offset_page]


def counted_ms(grid: ExecutionsGrid, since: float) -> float:
    """Milliseconds from `since` (the list made) until the grid has its exact total (counted in
    the background past its first rows); 0 when it was counted at once."""
    if not grid.counting:
        return 0.0
    while grid.counting:
        time.sleep(0.002)
    return (time.perf_counter() - since) * 1000


def _traits(case: dict[str, Any]) -> dict[str, Any]:
    return {
        "filters": case.get("filters", {}),
        "sort_by": case.get("sort_by", "started_at"),
        "sort_order": case.get("sort_order", "desc"),
    }


def run(url: str, runs: int, now: Any) -> list[list[Any]]:
    """Every case over the 90d window, then the newest-first list of one brushed day."""
    analytics = connect(url, now=lambda: now)
    window = analytics.window("90d")
    ExecutionsGrid(analytics, window).answer(  # warm-up: connections, the page cache
        {"kind": "rows", "offset": 0, "limit": PAGE, "version": 1}
    )
    rows = [[name, *timings(analytics, window, case, runs)] for name, case in CASES.items()]
    day = Window(now - timedelta(days=2), now - timedelta(days=1), False, "brushed day")
    rows.append(["brushed day, newest first", *timings(analytics, day, {}, runs)])
    dispose_engine(url)
    return rows


def main() -> None:
    """Reuse (or seed) bench/analytics.py's databases, time the grid, print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    database_options(parser)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per page (median)")
    args = parser.parse_args()
    seeding = analytics_bench()
    urls = database_urls(args, seeding)
    print(f"\n{args.executions:,} executions; {PAGE} rows a page; median of {args.runs} runs\n")
    print("| database | list | rows | new list (ms) | first page | exact count "
          "(background) | jump to the middle | next page on | jump to the last | walk "
          "(background) | jump after the walk | baseline: next page by OFFSET |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, url in urls.items():
        seeding.seeded(url, args.executions)
        migrate(get_engine(url))  # the grid's sort indexes, on a database seeded before them
        if url.startswith("postgresql"):
            enable_search_index(get_engine(url))  # the opt-in trigram index for text search
        for label, total, *times in run(url, args.runs, seeding.NOW):
            cells = " | ".join(f"{ms:,.1f}" for ms in times)
            print(f"| {name} | {label} | {total:,} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
