"""DuckDB as a baseline: the dashboard's panels computed from a copy of the same rows.

`copy_rows` loads the executions (and their token usage rows) that started since a moment into an
in-memory DuckDB database, untimed; `panels` then computes what a refresh shows, each panel as
the kit defines it: both windows' overviews with P50/P95/P99, the time series with P95 per
bucket, cost by model and cost over time by model with the usage rows' split, top agents, the
first page of executions, the users, and the anomaly scan's daily figures per agent and per model
over the window and its 28 baseline days. Needs the `bench` extra (`pip install -e '.[bench]'`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import duckdb
import pandas as pd
from sqlalchemy import Engine, select

from aa_notebooks.analytics import Window
from aa_notebooks.analytics.filters import EXECUTIONS, TOKEN_USAGES

EXECUTION_COLUMNS = (
    "id", "user_id", "agent_id", "agent_name", "model_name", "status", "execution_time_ms",
    "cost_usd", "input_tokens", "output_tokens", "total_tokens", "started_at",
)  # fmt: skip
BASELINE_DAYS = 28


def copy_rows(engine: Engine, since: datetime) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with tables ex and tu: the executions started since `since` and their
    usage rows, ids as text, times as naive UTC, money as DECIMAL(10,6)."""
    e, u = EXECUTIONS.c, TOKEN_USAGES.c
    executions = select(*(e[name] for name in EXECUTION_COLUMNS)).where(e.started_at >= since)
    usages = (
        select(u.execution_id, u.model, u.cost_usd, u.input_tokens, u.output_tokens)
        .join(EXECUTIONS, e.id == u.execution_id)
        .where(e.started_at >= since)
    )
    with engine.connect() as connection:
        ex = pd.read_sql(executions, connection)
        tu = pd.read_sql(usages, connection)
    for frame, columns in ((ex, ("id", "user_id", "agent_id")), (tu, ("execution_id",))):
        for column in columns:
            frame[column] = frame[column].map(lambda v: None if v is None else str(v))
    ex["status"] = ex["status"].map(lambda v: getattr(v, "value", v))
    ex["started_at"] = pd.to_datetime(ex["started_at"], utc=True).dt.tz_convert(None)
    duck = duckdb.connect()
    duck.register("ex_frame", ex)
    duck.register("tu_frame", tu)
    duck.execute(
        "CREATE TABLE ex AS SELECT * REPLACE (CAST(cost_usd AS DECIMAL(10,6)) AS cost_usd) "
        "FROM ex_frame ORDER BY started_at"
    )
    duck.execute(
        "CREATE TABLE tu AS SELECT * REPLACE (CAST(cost_usd AS DECIMAL(10,6)) AS cost_usd) "
        "FROM tu_frame"
    )
    duck.unregister("ex_frame")
    duck.unregister("tu_frame")
    return duck


def _bounds(window: Window) -> tuple[datetime, datetime]:
    lower, upper = window.bounds()
    return lower.replace(tzinfo=None), upper.replace(tzinfo=None)


OVERVIEW = """
SELECT count(*), count(*) FILTER (status = 'success'), avg(execution_time_ms),
       quantile_cont(execution_time_ms, [0.5, 0.95, 0.99]), sum(cost_usd), sum(input_tokens),
       sum(output_tokens), sum(total_tokens), count(DISTINCT coalesce(agent_id, agent_name))
FROM ex WHERE started_at >= $lower AND started_at < $upper
"""
SERIES = """
SELECT date_trunc($unit, started_at) AS bucket, count(*), count(*) FILTER (status = 'success'),
       avg(execution_time_ms), quantile_cont(execution_time_ms, 0.95), sum(cost_usd)
FROM ex WHERE started_at >= $lower AND started_at < $upper GROUP BY bucket ORDER BY bucket
"""
OWN_COST = """
SELECT date_trunc($unit, started_at) AS bucket, model_name, count(*), sum(cost_usd)
FROM ex WHERE started_at >= $lower AND started_at < $upper GROUP BY ALL
"""
MOVED_COST = """
SELECT date_trunc($unit, e.started_at) AS bucket, u.model, e.model_name, sum(u.cost_usd)
FROM tu u JOIN ex e ON u.execution_id = e.id
WHERE e.started_at >= $lower AND e.started_at < $upper AND u.model IS DISTINCT FROM e.model_name
GROUP BY ALL
"""
TOP_AGENTS = """
SELECT coalesce(agent_id, agent_name) AS agent, max(agent_name), count(*),
       count(*) FILTER (status = 'success'), avg(execution_time_ms), sum(cost_usd)
FROM ex WHERE started_at >= $lower AND started_at < $upper
GROUP BY agent ORDER BY count(*) DESC LIMIT 10
"""
PAGE = """
SELECT * FROM ex WHERE started_at >= $lower AND started_at < $upper
ORDER BY started_at DESC, id DESC LIMIT 20
"""
USERS = """
SELECT DISTINCT user_id FROM ex
WHERE started_at >= $lower AND started_at < $upper AND user_id IS NOT NULL
"""
DAILY = """
SELECT date_trunc('day', started_at) AS day, {key} AS key, count(*),
       count(*) FILTER (status = 'success'), quantile_cont(execution_time_ms, 0.95), sum(cost_usd)
FROM ex WHERE started_at >= $lower AND started_at < $upper GROUP BY ALL
"""


def panels(duck: duckdb.DuckDBPyConnection, window: Window, bucket: str) -> dict[str, Any]:
    """Every panel's numbers for `window` (with its previous window), as the dashboard shows
    them; cost by model splits each bucket by the usage rows whose model is not their
    execution's, as the kit does."""
    lower, upper = _bounds(window)
    before = _bounds(window.previous())
    day = timedelta(days=1)
    scan_from = lower.replace(hour=0, minute=0, second=0, microsecond=0) - BASELINE_DAYS * day
    window_params = {"lower": lower, "upper": upper}
    bucketed = {**window_params, "unit": bucket}
    found: dict[str, Any] = {
        "overview": duck.execute(OVERVIEW, window_params).fetchone(),
        "previous": duck.execute(OVERVIEW, {"lower": before[0], "upper": before[1]}).fetchone(),
        "series": duck.execute(SERIES, bucketed).fetchall(),
        "top_agents": duck.execute(TOP_AGENTS, window_params).fetchall(),
        "page": duck.execute(PAGE, window_params).fetchall(),
        "users": duck.execute(USERS, window_params).fetchall(),
    }
    for name, unit in (("cost_by_model", "year"), ("cost_over_time", bucket)):
        own = duck.execute(OWN_COST, {**window_params, "unit": unit}).fetchall()
        moved = duck.execute(MOVED_COST, {**window_params, "unit": unit}).fetchall()
        found[name] = _split(own, moved)
    scan = {"lower": scan_from, "upper": upper}
    for key in ("coalesce(agent_id, agent_name)", "model_name"):
        found[f"daily {key}"] = duck.execute(DAILY.format(key=key), scan).fetchall()
    return found


def _split(own: list[tuple[Any, ...]], moved: list[tuple[Any, ...]]) -> dict[tuple, Any]:
    """Cost per (bucket, model): executions' own, plus their rows of other models moved over."""
    cost: dict[tuple, Any] = {}
    for bucket, model, _, amount in own:
        cost[(bucket, model)] = cost.get((bucket, model), 0) + amount
    for bucket, row_model, model, amount in moved:
        cost[(bucket, row_model)] = cost.get((bucket, row_model), 0) + amount
        cost[(bucket, model)] = cost.get((bucket, model), 0) - amount
    return cost
