"""The rollup rows that the raw tables give for a span of whole days, computed in SQL.

`rebuild` writes them and `check` compares them with the stored rows. One query per day per
table keeps memory flat on big tables; each groups the day's executions by hour and dimensions,
with the latency sketch made in the database (PostgreSQL: bucket keys counted, then packed with
`int4send`) or by a registered aggregate (SQLite), from the same formula `sketch.key_of` uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy import Connection, TextClause, bindparam, inspect, text

from aa_notebooks.db.driver import driver_connection
from aa_notebooks.db.rollups.dims import as_uuid, dims_key, utc_naive
from aa_notebooks.db.rollups.record import CacheSums, ExecutionSums, UsageSums
from aa_notebooks.db.rollups.sketch import KEY_MULTIPLIER, ZERO_KEY, Sketch, encode, key_of
from aa_notebooks.db.schema import RangeBound

DAY = timedelta(days=1)
_SQLITE_SKETCH = "aa_rollup_sketch"


class _SQLiteSketch:
    """SQLite aggregate: the stored sketch of the durations of a group that are numbers (not
    NULL, nor text another program left in the column, as the raw percentiles leave them out)."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}

    def step(self, value: float | str | None) -> None:
        if isinstance(value, int | float):
            key = key_of(value)
            self.counts[key] = self.counts.get(key, 0) + 1

    def finalize(self) -> bytes:
        return encode(self.counts)


def _hour_sql(connection: Connection, column: str) -> str:
    if connection.dialect.name == "postgresql":
        return f"date_trunc('hour', {column})"
    return f"strftime('%Y-%m-%d %H:00:00', {column})"


def _flow(connection: Connection) -> str:
    columns = {c["name"] for c in inspect(connection).get_columns("agentexecutions")}
    return "flow_id" if "flow_id" in columns else "CAST(NULL AS VARCHAR)"


def _execution_query(connection: Connection) -> str:
    hour = _hour_sql(connection, "started_at")
    dims = f"user_id, agent_id, agent_name, model_name, status, {_flow(connection)} AS flow_id"
    if connection.dialect.name == "postgresql":
        key = (
            "CASE WHEN execution_time_ms IS NULL THEN NULL WHEN execution_time_ms <= 0 "
            f"THEN {ZERO_KEY} ELSE ceil(ln(execution_time_ms::float8) * "
            f"{KEY_MULTIPLIER!r}::float8)::int END"
        )
        return f"""
SELECT hour, user_id, agent_id, agent_name, model_name, status, flow_id,
  sum(n), sum(time_count), sum(time_sum), sum(input_count), sum(input_tokens),
  sum(output_count), sum(output_tokens), sum(total_tokens), sum(cost),
  string_agg(int4send(k) || int4send(time_count::int), ''::bytea ORDER BY k)
    FILTER (WHERE k IS NOT NULL)
FROM (
  SELECT {hour} AS hour, {dims}, {key} AS k, count(*) AS n,
    count(execution_time_ms) AS time_count, sum(execution_time_ms) AS time_sum,
    count(input_tokens) AS input_count, sum(input_tokens) AS input_tokens,
    count(output_tokens) AS output_count, sum(output_tokens) AS output_tokens,
    sum(total_tokens) AS total_tokens, (sum(cost_usd) * 1000000)::bigint AS cost
  FROM agentexecutions WHERE started_at >= :lower AND started_at < :upper
  GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
) AS keyed
GROUP BY 1, 2, 3, 4, 5, 6, 7"""
    driver_connection(connection).create_aggregate(_SQLITE_SKETCH, 1, _SQLiteSketch)
    return f"""
SELECT {hour}, {dims}, count(*), count(execution_time_ms), sum(execution_time_ms),
  count(input_tokens), sum(input_tokens), count(output_tokens), sum(output_tokens),
  sum(total_tokens), sum(CAST(round(cost_usd * 1000000) AS INTEGER)),
  {_SQLITE_SKETCH}(execution_time_ms)
FROM agentexecutions WHERE started_at >= :lower AND started_at < :upper
GROUP BY 1, 2, 3, 4, 5, 6, 7"""


def _usage_query(connection: Connection) -> str:
    hour = _hour_sql(connection, "e.started_at")
    distinct = "IS DISTINCT FROM" if connection.dialect.name == "postgresql" else "IS NOT"
    cost = (
        "(sum(u.cost_usd) * 1000000)::bigint"
        if connection.dialect.name == "postgresql"
        else "sum(CAST(round(u.cost_usd * 1000000) AS INTEGER))"
    )
    return f"""
SELECT {hour}, e.user_id, u.model, e.model_name, count(DISTINCT u.execution_id),
  sum(u.input_tokens), sum(u.output_tokens), {cost}
FROM tokenusages u JOIN agentexecutions e ON e.id = u.execution_id
WHERE e.started_at >= :lower AND e.started_at < :upper AND u.model {distinct} e.model_name
GROUP BY 1, 2, 3, 4"""


def _cache_query(connection: Connection) -> str:
    hour = _hour_sql(connection, "e.started_at")
    present = {c["name"] for c in inspect(connection).get_columns("tokenusages")}
    read, write = (
        f"sum(u.{name})" if name in present else "0"
        for name in ("cache_read_tokens", "cache_write_tokens")
    )
    if connection.dialect.name == "postgresql":
        # Summed per execution in a LATERAL subquery, which PostgreSQL can only run as an index
        # lookup per execution of the day. As a plain join it misjudges the usages per execution
        # (38 for 3 at 10M) and hashes every usage row of the table: 6.7 s a day instead of 0.5.
        return f"""
SELECT {hour}, e.user_id, p.model, sum(p.input_tokens), sum(p.read), sum(p.write)
FROM agentexecutions e CROSS JOIN LATERAL (
  SELECT u.model, sum(u.input_tokens) AS input_tokens, {read} AS read, {write} AS write
  FROM tokenusages u WHERE u.execution_id = e.id GROUP BY u.model
) AS p
WHERE e.started_at >= :lower AND e.started_at < :upper
GROUP BY 1, 2, 3"""
    return f"""
SELECT {hour}, e.user_id, u.model, sum(u.input_tokens), {read}, {write}
FROM tokenusages u JOIN agentexecutions e ON e.id = u.execution_id
WHERE e.started_at >= :lower AND e.started_at < :upper
GROUP BY 1, 2, 3"""


def days_between(lower: datetime, upper: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Each day [start, start + 1 day) from `lower` (a midnight) up to `upper`."""
    day = lower
    while day < upper:
        yield day, day + DAY
        day += DAY


def execution_rows(connection: Connection, lower: datetime, upper: datetime) -> ExecutionSums:
    """The hourly executions rollup of [lower, upper) as the raw rows give it."""
    hourly = ExecutionSums()
    query = _bound(_execution_query(connection))
    for row in connection.execute(query, {"lower": lower, "upper": upper}):
        hour, user_id, agent_id, agent_name, model, status, flow = row[:7]
        dims = (as_uuid(user_id), as_uuid(agent_id), agent_name, model, str(status), flow)
        digest = dims_key(dims)
        hourly.dims[digest] = dims
        cell = (utc_naive(hour), digest)
        hourly.sums[cell] = [int(value or 0) for value in row[7:16]]
        hourly.sketches[cell] = Sketch.decode([row[16]]).counts
    return hourly


def usage_rows(connection: Connection, lower: datetime, upper: datetime) -> UsageSums:
    """The hourly usage rollup of [lower, upper) as the raw rows give it."""
    hourly = UsageSums()
    query = _bound(_usage_query(connection))
    for row in connection.execute(query, {"lower": lower, "upper": upper}):
        hour, user_id, row_model, execution_model = row[:4]
        dims = (as_uuid(user_id), row_model, execution_model)
        digest = dims_key(dims)
        hourly.dims[digest] = dims
        hourly.sums[(utc_naive(hour), digest)] = [int(value or 0) for value in row[4:8]]
    return hourly


def cache_rows(connection: Connection, lower: datetime, upper: datetime) -> CacheSums:
    """The hourly cache tokens rollup of [lower, upper) as the raw rows give it."""
    hourly = CacheSums()
    query = _bound(_cache_query(connection))
    for row in connection.execute(query, {"lower": lower, "upper": upper}):
        hour, user_id, model = row[:3]
        dims = (as_uuid(user_id), model)
        digest = dims_key(dims)
        hourly.dims[digest] = dims
        hourly.sums[(utc_naive(hour), digest)] = [int(value or 0) for value in row[3:6]]
    return hourly


def _bound(sql: str) -> TextClause:
    """The query with its [lower, upper) bounds bound as range bounds (`RangeBound`)."""
    return text(sql).bindparams(
        bindparam("lower", type_=RangeBound()), bindparam("upper", type_=RangeBound())
    )
