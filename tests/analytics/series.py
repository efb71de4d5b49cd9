"""Hand-made daily series for the anomaly tests: 35 days (2026-10-26 to 2026-11-29, UTC) of
executions per agent, each with one known spike.

Day i (0-34) is 2026-10-26 + i days; NOW is Monday 2026-11-30 12:00 UTC and the judged window is
the last 7 complete days, Monday 2026-11-23 (day 28) to Sunday 2026-11-29 (day 34).

    alpha (gpt-4o)    10 runs/day, cost 0.10/0.11/0.12 a day by i % 3; day 31: 1.00 (spike)
    beta  (claude)    10 runs/day, each 1000/1010/1020 ms by i % 3;   day 30: 5000 ms (spike)
    gamma (acme)      20 runs/day, 5 failed when i % 4 == 0;          day 32: 15 failed (spike)
    delta (solo)      10 runs/day from day 25 only (too little history); day 33: cost 9.99
    weekly (weekly)   10 runs/day, cost 0.10/0.11/0.12 by i % 3, every Monday 1.00; day 29
                      (a Tuesday) 1.00
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import create_engine, insert

from aa_notebooks.db.schema import AgentExecution
from aa_notebooks.db.url import resolve_url

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
FIRST = datetime(2026, 10, 26, tzinfo=UTC)
DAYS = 35
START_DATE, END_DATE = "2026-11-23", "2026-11-29"
AGENT_IDS = {name: uuid.uuid5(uuid.NAMESPACE_URL, f"agent/{name}") for name in
             ("alpha", "beta", "gamma", "delta", "weekly")}  # fmt: skip


def day(i: int) -> datetime:
    """00:00 UTC of day i."""
    return FIRST + timedelta(days=i)


def _run(agent: str, model: str, started: datetime, cost: str, ms: int, ok: bool) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(), "user_id": None, "request_id": uuid.uuid4(),
        "session_id": uuid.uuid4(), "agent_id": AGENT_IDS[agent], "agent_name": agent,
        "agent_type": "react", "model_name": model,
        "status": "success" if ok else "failure",
        "input_tokens": 10, "output_tokens": 10, "total_tokens": 20,
        "cost_usd": Decimal(cost), "execution_time_ms": ms, "llm_time_ms": ms // 2,
        "started_at": started.replace(tzinfo=None), "completed_at": None,
    }  # fmt: skip


def alpha_cost(i: int) -> str:
    """alpha's cost on day i (in two equal runs)."""
    return "1.00" if i == 31 else ("0.10", "0.11", "0.12")[i % 3]


def weekly_cost(i: int) -> str:
    """weekly's cost on day i (one run): high on Mondays and on day 29."""
    return "1.00" if day(i).weekday() == 0 or i == 29 else ("0.10", "0.11", "0.12")[i % 3]


def beta_ms(i: int) -> int:
    """beta's duration of each run on day i."""
    return 5000 if i == 30 else 1000 + 10 * (i % 3)


def gamma_failed(i: int) -> int:
    """How many of gamma's 20 runs failed on day i."""
    return 15 if i == 32 else 5 * int(i % 4 == 0)


def rows() -> list[dict[str, Any]]:
    """Every execution of the series."""
    runs = []
    for i in range(DAYS):
        ten = [day(i) + timedelta(hours=8, minutes=30 * n) for n in range(10)]
        twenty = [day(i) + timedelta(hours=8, minutes=15 * n) for n in range(20)]
        alpha, weekly = (str(Decimal(cost) / 10) for cost in (alpha_cost(i), weekly_cost(i)))
        runs += [_run("alpha", "gpt-4o", at, alpha, 800, True) for at in ten]
        runs += [_run("beta", "claude", at, "0.002", beta_ms(i), True) for at in ten]
        runs += [_run("gamma", "acme", at, "0.001", 500, n >= gamma_failed(i))
                 for n, at in enumerate(twenty)]  # fmt: skip
        if i >= 25:
            delta = "0.999" if i == 33 else "0.005"
            runs += [_run("delta", "solo", at, delta, 500, True) for at in ten]
        runs += [_run("weekly", "weekly", at, weekly, 700, True) for at in ten]
    return runs


def load(url: str, executions: list[dict[str, Any]] | None = None) -> None:
    """Insert the series (or some of its `executions`) into a database with the kit's schema."""
    engine = create_engine(resolve_url(url))
    try:
        with engine.begin() as connection:
            connection.execute(insert(AgentExecution.__table__), executions or rows())
    finally:
        engine.dispose()
