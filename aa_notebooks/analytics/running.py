"""Runs in flight now: the rows trackers keep in `runningexecutions` while runs go on.

A run is `running` while its writer's heartbeat is fresh, and `lost` once it has missed
`LOST_AFTER_BEATS` heartbeats (its process died or cannot reach the database); a live tracker
later records a lost run as a failure and its row goes (see `aa_notebooks.tracking.in_flight`).
There are as many rows as runs going at once, so the per-agent summary is made from them here.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import inspect, select

from aa_notebooks.analytics.frames import described
from aa_notebooks.analytics.source import Source
from aa_notebooks.db.schema import RunningExecution, table_of

RUNNING = table_of(RunningExecution)
LOST_AFTER_BEATS = 3
COLUMNS = [
    "id", "agent_name", "agent_id", "user_id", "model_name", "flow_id", "query_preview",
    "started_at", "heartbeat_at", "age_s", "silent_s", "state", "host", "pid",
]  # fmt: skip
SUMMARY_COLUMNS = ["agent_name", "running", "lost", "oldest_started_at", "oldest_age_s"]


def running(source: Source, now: datetime, agent: str | None = None) -> pd.DataFrame:
    """The runs in flight, oldest first (`COLUMNS`): ages in seconds, state running or lost."""
    c = RUNNING.c
    query = select(
        c.id, c.agent_name, c.agent_id, c.user_id, c.model_name, c.flow_id, c.query_preview,
        c.started_at, c.heartbeat_at, c.heartbeat_every_s, c.host, c.pid,
    ).order_by(c.started_at, c.id)  # fmt: skip
    if source.whole("runs in flight").user_id is not None:
        query = query.where(c.user_id == source.user_id)
    if agent is not None:
        query = query.where(c.agent_name == agent)
    with source.connect() as connection:
        if not inspect(connection).has_table(RUNNING.name):  # an AgentOS database
            rows = []
        else:
            rows = [dict(row._mapping) for row in connection.execute(query)]
    for row in rows:
        for key in ("id", "agent_id", "user_id"):
            row[key] = None if row[key] is None else str(row[key])  # as other results show ids
        row["age_s"] = round(max(0.0, (now - row["started_at"]).total_seconds()), 1)
        row["silent_s"] = round(max(0.0, (now - row["heartbeat_at"]).total_seconds()), 1)
        limit = LOST_AFTER_BEATS * row.pop("heartbeat_every_s")
        row["state"] = "lost" if row["silent_s"] > limit else "running"
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return described(frame, "Runs in flight", scope=source.scope)


def by_agent(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs in flight per agent (`SUMMARY_COLUMNS`), the longest-running agent first."""
    title, scope = "Runs in flight by agent", runs.attrs.get("scope")
    if runs.empty:
        return described(pd.DataFrame(columns=SUMMARY_COLUMNS), title, scope=scope)
    grouped = runs.assign(
        agent_name=runs["agent_name"].fillna("(no agent)"),
        is_running=runs["state"].eq("running"),
        is_lost=runs["state"].eq("lost"),
    ).groupby("agent_name", sort=False)
    summary = grouped.agg(
        running=("is_running", "sum"),
        lost=("is_lost", "sum"),
        oldest_started_at=("started_at", "min"),
        oldest_age_s=("age_s", "max"),
    )
    summary = summary.reset_index().sort_values(
        ["oldest_age_s", "agent_name"], ascending=[False, True]
    )
    frame = summary.astype({"running": int, "lost": int}).reset_index(drop=True)[SUMMARY_COLUMNS]
    return described(frame, title, scope=scope)
