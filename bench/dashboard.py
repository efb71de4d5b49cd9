"""Time a full dashboard refresh at 1M executions, in the Python process that holds the widgets.

A refresh is `Dashboard.set_period(...)` until every panel is updated (it waits for the worker):
both overviews (window and previous window, for the KPI changes), the time series, cost by
model, cost over time by model, top agents, the first page of recent executions and the scope
list, then the cards, charts and tables. Periods alternate, so every timed call is a change.
Beside it, in the same run: DuckDB computing the same panels from an in-memory copy of the same
rows (bench/duckdb_baseline.py, the `bench` extra), and the naive baseline, which loads every
execution of the window and of the previous one (and the window's token usage rows, for cost by
model) with `pandas.read_sql` and computes the same panels in pandas (`--skip-naive` leaves it
out).

The databases are those of bench/analytics.py (its seeding and reuse rules), so a database it
left behind is reused as it is.

The anomaly scan keeps its last findings by what it read (complete days do not change between
refreshes), so after the first round every timed refresh reuses them; `--cold` forgets them
before each refresh, to time a first look at a period.

    python bench/dashboard.py                          # 1,000,000 executions, both databases
    python bench/dashboard.py --skip-sqlite --periods 7d,30d --runs 5 --skip-naive
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from types import ModuleType
from typing import Any

import pandas as pd
from _shared import analytics_bench, database_options, database_urls
from duckdb_baseline import BASELINE_DAYS, copy_rows, panels
from sqlalchemy import select
from sqlalchemy.engine import Engine

from aa_notebooks.analytics import Window, anomalies, connect
from aa_notebooks.analytics.filters import EXECUTIONS, in_window
from aa_notebooks.db.engine import dispose_engine, get_engine
from aa_notebooks.ui import Dashboard
from aa_notebooks.ui.snapshot import bucket_for, load


def median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000


def timed(work: Callable[[], Any]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def naive_panels(engine: Engine, window: Window, seeding: ModuleType) -> dict[str, Any]:
    """Every panel's numbers from all rows of the window and the previous one, in pandas."""
    both = Window(window.previous().start, window.end, window.end_inclusive, "both")
    with engine.connect() as connection:
        frame = pd.read_sql(select(EXECUTIONS).where(in_window(both)), connection)
    frame["cost_usd"] = frame["cost_usd"].astype(float)
    frame["started_at"] = pd.to_datetime(frame["started_at"], utc=True)
    frame["success"] = frame["status"].astype(str) == "success"
    frame["agent"] = frame["agent_id"].astype("string").fillna(frame["agent_name"])
    current = frame[frame["started_at"] >= window.start]
    previous = frame[frame["started_at"] < window.start]

    def overview(rows: pd.DataFrame) -> dict[str, Any]:
        times = rows["execution_time_ms"]
        return {
            "executions": len(rows),
            "success_rate": rows["success"].mean() * 100,
            "avg_ms": times.mean(),
            "percentiles": times.quantile([0.5, 0.95, 0.99]).tolist(),
            "cost": rows["cost_usd"].sum(),
            "tokens": rows[["input_tokens", "output_tokens", "total_tokens"]].sum().tolist(),
            "agents": rows["agent"].nunique(),
        }

    bucket = "h" if bucket_for(window) == "hour" else "D"
    timed_rows = current.assign(bucket=current["started_at"].dt.floor(bucket))
    usage = seeding.load_usage(engine, window)
    return {
        "overview": overview(current),
        "previous": overview(previous),
        "series": timed_rows.groupby("bucket").agg(
            executions=("id", "size"), success_rate=("success", "mean"), cost=("cost_usd", "sum")
        ),
        "cost_by_model": seeding.naive_cost_by_model(current, usage)["cost"],
        "cost_over_time": seeding.naive_cost_by_model(timed_rows, usage, ("bucket",))["cost"],
        "top_agents": current.groupby("agent")
        .agg(
            executions=("id", "size"),
            success=("success", "mean"),
            avg=("execution_time_ms", "mean"),
            cost=("cost_usd", "sum"),
        )
        .nlargest(10, "executions"),
        "page": current.nlargest(20, "started_at"),
        "users": sorted(current["user_id"].dropna().astype(str).unique()),
    }


def check_same(board: Dashboard, naive: dict[str, Any]) -> None:
    """The baseline must show what the dashboard shows before any time is printed."""
    assert board.snapshot is not None
    shown = board.snapshot.overview
    assert shown.total_executions == naive["overview"]["executions"]
    assert abs(float(shown.total_cost_usd) - naive["overview"]["cost"]) < 1e-6
    assert shown.active_agents == naive["overview"]["agents"]
    assert board.snapshot.previous.total_executions == naive["previous"]["executions"]
    assert list(board.snapshot.top_agents.frame["executions"]) == list(
        naive["top_agents"]["executions"]
    )
    by_model = board.snapshot.cost_by_model.frame.fillna({"model": "(none)"})
    assert len(by_model) == len(naive["cost_by_model"])
    for row in by_model.itertuples():
        assert abs(row.cost_usd - naive["cost_by_model"][row.model]) < 1e-6
    over_time = board.snapshot.cost_over_time.frame.query("executions > 0")
    assert len(over_time) == len(naive["cost_over_time"])
    for row in over_time.fillna({"model": "(none)"}).itertuples():
        assert abs(row.cost_usd - naive["cost_over_time"][(row.bucket, row.model)]) < 1e-6


def check_duckdb(board: Dashboard, duck: dict[str, Any]) -> None:
    """DuckDB's copy must give the numbers the dashboard shows before any time is printed."""
    assert board.snapshot is not None
    shown = board.snapshot.overview
    executions, _, _, _, cost, *_ = duck["overview"]
    assert shown.total_executions == executions
    assert shown.total_cost_usd == (cost or 0)
    by_model = board.snapshot.cost_by_model.frame
    assert len(by_model) == len(duck["cost_by_model"])


def run(
    url: str,
    periods: list[str],
    runs: int,
    seeding: ModuleType,
    skip_naive: bool,
    skip_duckdb: bool,
    cold: bool = False,
) -> list[dict[str, Any]]:
    """Median refresh, query, baseline and DuckDB times per period for one database."""
    analytics = connect(url, now=lambda: seeding.NOW)
    engine = get_engine(url)
    board = Dashboard(analytics, periods[-1])  # the first refresh also loads the chart bundle
    refresh: dict[str, list[float]] = {p: [] for p in periods}
    for _ in range(runs):
        for period in periods:
            if cold:
                anomalies.forget_scans()
            refresh[period].append(timed(lambda p=period: board.set_period(p)))
    longest = max(analytics.window(period).duration for period in periods)
    since = seeding.NOW - 2 * longest - timedelta(days=BASELINE_DAYS + 1)
    duck = None if skip_duckdb else copy_rows(engine, since)
    results = []
    for period in periods:
        window = analytics.window(period)
        board.set_period(period)
        if not skip_naive:
            check_same(board, naive_panels(engine, window, seeding))
        if duck is not None:
            check_duckdb(board, panels(duck, window, bucket_for(window)))
        listing = board.recent.listing_for
        queries = [
            timed(lambda w=window, rows=listing: load(analytics, analytics, w, rows))
            for _ in range(runs)
        ]
        naive = [
            timed(lambda w=window: naive_panels(engine, w, seeding))
            for _ in range(0 if skip_naive else runs)
        ]
        ducks = [
            timed(lambda w=window, d=duck: panels(d, w, bucket_for(w)))
            for _ in range(0 if duck is None else runs)
        ]
        results.append(
            {
                "period": period,
                "refresh": median_ms(refresh[period]),
                "queries": median_ms(queries),
                "baseline": median_ms(naive) if naive else None,
                "duckdb": median_ms(ducks) if ducks else None,
                "executions": board.snapshot.overview.total_executions if board.snapshot else 0,
            }
        )
    board.close()  # its list's background work would run on beside the next database's runs
    dispose_engine(url)
    return results


def main() -> None:
    """Seed (or reuse) the databases, time refreshes and the baseline, print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    database_options(parser)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per period (median)")
    parser.add_argument("--periods", default="24h,7d,30d,90d", help="comma-separated periods")
    parser.add_argument(
        "--skip-naive", action="store_true", help="leave out the read_sql + pandas baseline"
    )
    parser.add_argument("--skip-duckdb", action="store_true", help="leave out DuckDB")
    parser.add_argument(
        "--cold", action="store_true", help="forget the anomaly scans before each refresh"
    )
    args = parser.parse_args()
    seeding = analytics_bench()
    urls = database_urls(args, seeding)
    periods = args.periods.split(",")
    print(f"\n{args.executions:,} executions; median of {args.runs} runs\n")
    print("| database | period | executions in window | dashboard refresh (ms) | of which "
          "queries (ms) | DuckDB, same panels (ms) | refresh / DuckDB | baseline read_sql + "
          "pandas (ms) | baseline / refresh |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, url in urls.items():
        seeding.seeded(url, args.executions)
        rows = run(url, periods, args.runs, seeding, args.skip_naive, args.skip_duckdb, args.cold)
        for row in rows:
            baseline, duck = row["baseline"], row["duckdb"]
            naive = "–" if baseline is None else f"{baseline:,.0f}"
            ratio = "–" if baseline is None else f"{baseline / row['refresh']:,.1f}x"
            duck_ms = "–" if duck is None else f"{duck:,.0f}"
            duck_ratio = "–" if duck is None else f"{row['refresh'] / duck:,.1f}x"
            print(
                f"| {name} | {row['period']} | {row['executions']:,} | {row['refresh']:,.0f} | "
                f"{row['queries']:,.0f} | {duck_ms} | {duck_ratio} | {naive} | {ratio} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
