"""`Analytics.running`: runs in flight from hand-made rows,
read at a fixed clock, on SQLite and PostgreSQL.

At NOW (heartbeats every 5 s unless said; lost after missing 3 of them: silent > 15 s):
  A  alpha  U1  started NOW-120 s, beat NOW-2 s          -> running, age 120.0, silent 2.0
  B  alpha  U2  started NOW-30 s,  beat NOW-16 s         -> lost (16 > 15)
  C  beta   U1  started NOW-20 s,  beat NOW-15 s         -> running (15 is not past 15)
  D  none   -   started NOW-5 s,   beat NOW-1 s, every 0.2 s -> lost (1 > 0.6)
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import insert

from aa_notebooks.analytics import connect
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import RunningExecution
from tests.analytics.test_document_ddl import document_url  # noqa: F401 (a fixture)

NOW = datetime(2026, 12, 4, 12, 0, 0, tzinfo=UTC)
U1 = uuid.UUID("00000000-0000-4000-8000-0000000000a1")
U2 = uuid.UUID("00000000-0000-4000-8000-0000000000a2")
UUIDS = {name: uuid.uuid5(uuid.NAMESPACE_URL, f"running/{name}") for name in "ABCD"}
IDS = {name: str(value) for name, value in UUIDS.items()}
ROWS = [  # name, agent, user, started (s before NOW), heartbeat (s before NOW), every (s)
    ("A", "alpha", U1, 120, 2, 5.0),
    ("B", "alpha", U2, 30, 16, 5.0),
    ("C", "beta", U1, 20, 15, 5.0),
    ("D", None, None, 5, 1, 0.2),
]


def insert_runs(db_url: str) -> str:
    """Store rows A-D; returns the URL."""
    rows = [
        {
            "id": UUIDS[name],
            "agent_name": agent,
            "user_id": user,
            "query_preview": f"q {name}",
            "started_at": NOW - timedelta(seconds=started),
            "heartbeat_at": NOW - timedelta(seconds=beat),
            "heartbeat_every_s": every,
            "writer_id": "w",
            "host": "h",
            "pid": 7,
        }
        for name, agent, user, started, beat, every in ROWS
    ]
    with get_engine(db_url).begin() as connection:
        connection.execute(insert(RunningExecution), rows)
    return db_url


@pytest.fixture
def url(db_url: str) -> str:
    return insert_runs(db_url)


def test_each_run_with_its_age_and_state(url: str) -> None:
    runs = connect(url, now=lambda: NOW).running()
    agents = [None if pd.isna(name) else name for name in runs["agent_name"]]
    got = [(r["id"], agent, r["age_s"], r["silent_s"], r["state"])
           for r, agent in zip(runs.to_dict("records"), agents, strict=True)]  # fmt: skip
    assert got == [
        (IDS["A"], "alpha", 120.0, 2.0, "running"),
        (IDS["B"], "alpha", 30.0, 16.0, "lost"),
        (IDS["C"], "beta", 20.0, 15.0, "running"),
        (IDS["D"], None, 5.0, 1.0, "lost"),
    ]
    assert runs.attrs["title"] == "Runs in flight"


def test_per_agent_counts_and_the_oldest(url: str) -> None:
    summary = connect(url, now=lambda: NOW).running(by_agent=True)
    assert summary.to_dict("records") == [
        {"agent_name": "alpha", "running": 1, "lost": 1,
         "oldest_started_at": NOW - timedelta(seconds=120), "oldest_age_s": 120.0},
        {"agent_name": "beta", "running": 1, "lost": 0,
         "oldest_started_at": NOW - timedelta(seconds=20), "oldest_age_s": 20.0},
        {"agent_name": "(no agent)", "running": 0, "lost": 1,
         "oldest_started_at": NOW - timedelta(seconds=5), "oldest_age_s": 5.0},
    ]  # fmt: skip


def test_scoped_to_a_user_and_an_agent(url: str) -> None:
    assert list(connect(url, user_id=U1, now=lambda: NOW).running()["id"]) == [
        IDS["A"],
        IDS["C"],
    ]
    assert list(connect(url, now=lambda: NOW).running("beta")["id"]) == [IDS["C"]]
    assert connect(url, user_id=U2, now=lambda: NOW).running("beta").empty


def test_a_database_without_the_table_has_none(document_url: str) -> None:  # noqa: F811
    assert connect(document_url).running().empty
    assert connect(document_url).running(by_agent=True).empty
