"""Time the dashboard analytics at 1M executions on SQLite and PostgreSQL beside a naive baseline.

The dashboard set is what the dashboard shows at once: overview (7d), top agents (7d), cost by
model (7d), the first page of 20 recent executions (7d) and the daily time series (30d). The
baseline loads every execution row of the window (and, for cost by model, the window's token
usage rows) with `pandas.read_sql` and computes the same numbers in pandas (once for 7d, once
for 30d); both must agree before any time is printed.

Seeded databases are kept and reused when they hold the right number of executions, so reruns
take seconds: SQLite in the user cache directory, PostgreSQL as a scratch database created with
the admin URL (`--postgres-url`, else $AA_BENCH_POSTGRES_URL, else the test server's).

    python bench/analytics.py                      # 1,000,000 executions, both databases
    python bench/analytics.py --executions 100000 --skip-postgres --plans
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from _shared import database_options, database_urls
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError

from aa_notebooks.analytics import Analytics, Window, connect
from aa_notebooks.analytics.filters import EXECUTIONS, TOKEN_USAGES, in_window
from aa_notebooks.db.engine import dispose_engine, get_engine
from aa_notebooks.db.setup import init_db
from aa_notebooks.pricing import is_priced
from aa_notebooks.seed import seed_database

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DEFAULT_ADMIN_URL = "postgresql://aa_test:aa_test@127.0.0.1:5432/aa_test"
# Proposed for schema.py: the covering index widened to every column the dashboard reads.
PROPOSED_INDEX = (
    "ix_bench_dashboard_cover",
    "started_at, status, execution_time_ms, cost_usd, model_name, agent_id, agent_name, "
    "input_tokens, output_tokens, total_tokens",
)
DASHBOARD: dict[str, Callable[[Analytics], Any]] = {
    "overview 7d": lambda a: a.overview("7d"),
    "top agents 7d": lambda a: a.top_agents("7d"),
    "cost by model 7d": lambda a: a.cost_summary("7d", by="model"),
    "executions page 1 of 20": lambda a: a.executions(1, 20, period="7d"),
    "daily timeseries 30d": lambda a: a.timeseries("30d", bucket="day"),
}


def executions_in(url: str) -> int:
    """How many executions the database holds (0 when it has no tables yet)."""
    try:
        with get_engine(url).connect() as connection:
            return connection.execute(select(func.count()).select_from(EXECUTIONS)).scalar_one()
    except DBAPIError:  # no table yet: nothing seeded
        return 0


def seeded(url: str, count: int) -> None:
    """Seed `count` executions at the fixed NOW unless the database already holds exactly that."""
    if executions_in(url) == count:
        print(f"reusing {count:,} executions in {make_url(url).render_as_string()}")
        return
    init_db(url)
    started = time.perf_counter()
    seed_database(url, executions=count, now=NOW, reset=True, progress=True)
    print(f"seeded {count:,} executions in {time.perf_counter() - started:.0f} s")
    if make_url(url).get_backend_name() == "postgresql":
        with get_engine(url).connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM ANALYZE")  # visibility map for index-only scans
    else:
        with get_engine(url).begin() as connection:
            connection.exec_driver_sql("ANALYZE")


def postgres_url(admin_url: str, count: int) -> str:
    """A scratch database next to the admin URL's, created once and kept for reruns."""
    name = f"aa_bench_analytics_{count}"
    admin = create_engine(
        make_url(admin_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
            if exists is None:
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def use_proposed_index(url: str, wanted: bool) -> None:
    """Create (and analyze) the proposed index, or drop it, so each run measures what it says."""
    name, columns = PROPOSED_INDEX
    engine = get_engine(url)
    postgres = engine.dialect.name == "postgresql"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if not wanted:
            connection.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
            return
        connection.exec_driver_sql(
            f"CREATE INDEX IF NOT EXISTS {name} ON agentexecutions ({columns})"
        )
        connection.exec_driver_sql("VACUUM ANALYZE agentexecutions" if postgres else "ANALYZE")


def median_ms(
    work: Callable[[], Any], runs: int, clock: Callable[[], float] = time.perf_counter
) -> float:
    """Median time of `runs` calls after one warm-up, in milliseconds (wall clock by default)."""
    work()
    times = []
    for _ in range(runs):
        started = clock()
        work()
        times.append((clock() - started) * 1000)
    return statistics.median(times)


def load_window(engine: Engine, window: Window) -> pd.DataFrame:
    """The naive way: every execution row of the window into pandas."""
    with engine.connect() as connection:
        frame = pd.read_sql(select(EXECUTIONS).where(in_window(window)), connection)
    frame["cost_usd"] = frame["cost_usd"].astype(float)
    frame["started_at"] = pd.to_datetime(frame["started_at"], utc=True)
    return frame


def load_usage(engine: Engine, window: Window) -> pd.DataFrame:
    """The naive way: every token usage row of the window's executions into pandas."""
    u = TOKEN_USAGES.c
    query = (
        select(u.execution_id, u.model, u.input_tokens, u.output_tokens, u.cost_usd)
        .join(EXECUTIONS, EXECUTIONS.c.id == u.execution_id)
        .where(in_window(window))
    )
    with engine.connect() as connection:
        frame = pd.read_sql(query, connection)
    frame["cost_usd"] = frame["cost_usd"].astype(float)
    return frame


def naive_cost_by_model(
    executions: pd.DataFrame, usage: pd.DataFrame, keys: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Cost by model as the README defines it, execution by execution, in pandas.

    Each usage row under its own model; what an execution's rows do not account for under the
    execution's model; an execution counts once under its own model and each model its rows
    name. `keys` are further columns of `executions` to group by (e.g. a time bucket).
    """
    runs = executions.assign(model=executions["model_name"].fillna("(none)"))
    runs = runs[["id", "model", "cost_usd", *keys]]
    rows = usage.rename(columns={"execution_id": "id"}).assign(
        model=usage["model"].fillna("(none)")
    )
    rows = rows.merge(runs[["id", *keys]], on="id")
    accounted = rows.groupby("id")["cost_usd"].sum()
    rest = runs.assign(cost_usd=runs["cost_usd"] - runs["id"].map(accounted).fillna(0))
    parts = pd.concat([rows[["id", "model", "cost_usd", *keys]], rest])
    grouped = parts.groupby([*keys, "model"])
    return pd.DataFrame({"executions": grouped["id"].nunique(), "cost": grouped["cost_usd"].sum()})


def baseline_7d(frame: pd.DataFrame, usage: pd.DataFrame) -> dict[str, Any]:
    """Overview, top agents, cost by model and the first page, computed in pandas."""
    times = frame["execution_time_ms"]
    agent = frame["agent_id"].astype("string").fillna(frame["agent_name"])
    success = frame["status"].astype(str) == "success"
    models = set(frame["model_name"].dropna()) | set(usage["model"].dropna())
    top = (
        frame.assign(agent=agent, success=success)
        .groupby("agent")
        .agg(
            executions=("id", "size"),
            success_rate=("success", "mean"),
            avg=("execution_time_ms", "mean"),
            cost=("cost_usd", "sum"),
        )
        .nlargest(10, "executions")
    )
    by_model = naive_cost_by_model(frame, usage)
    by_model["share"] = by_model["cost"] / by_model["cost"].sum() * 100
    return {
        "executions": len(frame),
        "success_rate": success.mean() * 100,
        "avg_ms": times.mean(),
        "percentiles": times.quantile([0.5, 0.95, 0.99]).tolist(),
        "cost": frame["cost_usd"].sum(),
        "tokens": frame[["input_tokens", "output_tokens", "total_tokens"]].sum().tolist(),
        "agents": agent.nunique(),
        "unpriced": sorted(m for m in models if not is_priced(m)),
        "top": top,
        "by_model": by_model.sort_values("cost", ascending=False),
        "page": frame.nlargest(20, "started_at"),
    }


def baseline_30d(frame: pd.DataFrame) -> pd.DataFrame:
    """The daily time series, computed in pandas."""
    days = frame.assign(
        day=frame["started_at"].dt.floor("D"), success=frame["status"].astype(str) == "success"
    )
    return days.groupby("day").agg(
        executions=("id", "size"),
        success_rate=("success", "mean"),
        p95=("execution_time_ms", lambda s: s.quantile(0.95)),
        cost=("cost_usd", "sum"),
    )


def check_same(analytics: Analytics, engine: Engine) -> None:
    """The baseline and the analytics layer must give the same numbers."""
    ours = analytics.overview("7d")
    window = analytics.window("7d")
    naive = baseline_7d(load_window(engine, window), load_usage(engine, window))
    assert ours.total_executions == naive["executions"]
    assert [ours.p50_ms, ours.p95_ms, ours.p99_ms] == [round(p, 6) for p in naive["percentiles"]]
    assert abs(float(ours.total_cost_usd) - naive["cost"]) < 1e-6
    assert ours.active_agents == naive["agents"]
    assert list(ours.unpriced_models) == naive["unpriced"]
    top = analytics.top_agents("7d").frame
    assert list(top["executions"]) == list(naive["top"]["executions"])
    by_model = analytics.cost_summary("7d", by="model").frame.fillna({"model": "(none)"})
    expected = naive["by_model"]
    assert sorted(by_model["model"]) == sorted(expected.index)
    for row in by_model.itertuples():
        assert row.executions == expected.loc[row.model, "executions"]
        assert abs(row.cost_usd - expected.loc[row.model, "cost"]) < 1e-6
    series = analytics.timeseries("30d").frame
    daily = baseline_30d(load_window(engine, analytics.window("30d")))
    assert list(series["executions"]) == list(daily["executions"])
    assert list(series["p95_ms"]) == [round(p, 6) for p in daily["p95"]]


@contextmanager
def captured(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The statements the engine runs inside the block."""
    statements: list[tuple[str, Any]] = []

    def keep(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", keep)


def print_plans(analytics: Analytics, url: str) -> None:
    """EXPLAIN QUERY PLAN (SQLite) or EXPLAIN ANALYZE (PostgreSQL) of every dashboard query."""
    engine = get_engine(url)
    sqlite = engine.dialect.name == "sqlite"
    for name, call in DASHBOARD.items():
        with captured(engine) as statements:
            call(analytics)
        print(f"\n### {name} ({engine.dialect.name})")
        with engine.connect() as connection:
            if sqlite:
                connection.connection.driver_connection.create_aggregate(
                    "aa_latency_percentiles", 1, _NoPercentiles
                )
            else:
                connection.exec_driver_sql("SET jit = off")  # as the analytics run them
            for statement, parameters in statements:
                if statement.lstrip().upper().startswith("SET "):
                    connection.exec_driver_sql(statement)  # planner settings, as they ran
                    continue
                if not statement.lstrip().upper().startswith(("SELECT", "WITH", "(")):
                    continue
                prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, BUFFERS) "
                rows = connection.exec_driver_sql(prefix + statement, parameters)
                print("\n".join("    " + str(row[-1]) for row in rows))


class _NoPercentiles:
    """Stands in for the percentile aggregate so SQLite can plan the statements."""

    def step(self, value: Any) -> None:
        """Ignore the value."""

    def finalize(self) -> None:
        """No result."""


def run(url: str, runs: int, plans: bool) -> dict[str, float]:
    """Median times (ms) of each dashboard call, the whole set, and the baseline set."""
    analytics = connect(url, now=lambda: NOW)
    engine = get_engine(url)
    check_same(analytics, engine)
    if plans:
        print_plans(analytics, url)
    times = {name: median_ms(lambda c=call: c(analytics), runs) for name, call in DASHBOARD.items()}

    def full_set() -> None:
        for call in DASHBOARD.values():
            call(analytics)

    times["full set"] = median_ms(full_set, runs)
    # CPU of this process: all of SQLite's work, only the client's share for PostgreSQL; on a
    # busy machine it shows what the wall time would be without the other processes.
    times["full set, CPU of this process"] = median_ms(full_set, runs, time.process_time)

    def naive() -> None:
        week = analytics.window("7d")
        baseline_7d(load_window(engine, week), load_usage(engine, week))
        baseline_30d(load_window(engine, analytics.window("30d")))

    times["baseline (read_sql + pandas)"] = median_ms(naive, runs)
    dispose_engine(url)
    return times


def table(results: dict[str, dict[str, float]]) -> str:
    """The results as a Markdown table, with the baseline / analytics ratio of the full set."""
    names = list(next(iter(results.values())))
    header = "| step | " + " | ".join(f"{db} (ms)" for db in results) + " |"
    lines = [header, "|---|" + "---:|" * len(results)]
    lines += [
        f"| {name} | " + " | ".join(f"{r[name]:,.0f}" for r in results.values()) + " |"
        for name in names
    ]
    ratios = [r["baseline (read_sql + pandas)"] / r["full set"] for r in results.values()]
    lines.append("| baseline / full set | " + " | ".join(f"{x:,.1f}x" for x in ratios) + " |")
    return "\n".join(lines)


def main() -> None:
    """Seed (or reuse) the databases, time the dashboard set and the baseline, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    database_options(parser)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per step (median)")
    parser.add_argument("--plans", action="store_true", help="print every query's plan")
    parser.add_argument(
        "--proposed-index", action="store_true", help="time with the proposed covering index"
    )
    args = parser.parse_args()
    urls = database_urls(args, sys.modules[__name__])
    indexes = "schema.py indexes" + (" + the proposed index" if args.proposed_index else "")
    results = {}
    for name, url in urls.items():
        seeded(url, args.executions)
        use_proposed_index(url, args.proposed_index)
        results[name] = run(url, args.runs, args.plans)
        print(f"\n{args.executions:,} executions, {indexes}; median of {args.runs} runs\n")
        print(table(results), flush=True)


if __name__ == "__main__":
    main()
