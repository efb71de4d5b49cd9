"""A hand-made dataset whose executions' components run on other models than the execution.

`NOW` is 2026-11-25 12:00 UTC; the 7d window is [2026-11-18 12:00, 2026-11-25 12:00].

    id  started    user  model (execution)   in  out  cost      usage rows (model in/out cost)
    X1  now-1h     U1    gpt-4o            1000  300  0.010000  main gpt-4o 600/200 .006,
                                                                tool claude-3-5-sonnet 300/50 .003,
                                                                sub gpt-4o-mini 100/50 .001
    X2  now-1d     U2    gpt-4o-mini        400  100  0.000120  (none)
    X3  now-2d     U1    claude-3-5-sonnet  410  150  0.002151  main claude 200/100 .0021,
                                                                tool acme-vision-beta 50/10 0
                                                                (unpriced, only in this row),
                                                                sub gpt-4o-mini 100/20 .00003,
                                                                sub gpt-4o-mini 60/20 .000021
    X4  now-2d-1h  U1    gpt-4o             500  100  0.002500  main gpt-4o 400/80 .0018,
                                                                tool gpt-4o-mini 100/20 .000027
                                                                (they sum to .001827: .000673 short)
    X5  now-3d     U2    (none)             100  100  0.000075  main gpt-4o-mini 100/100 .000075
    X6  now-8d     U1    gpt-4o             100    0  0.500000  tool claude 100/0 .5 (outside 7d)

X1..X5 are in the 7d window. X1, X2, X3 and X5 cost what their usage rows add up to; X4 was
priced whole at gpt-4o (as the data contract's `track_agent_execution` prices it) while its rows
were priced per component, so its rows fall $0.000673 short of its cost.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import create_engine, insert, text

from aa_notebooks.db.schema import AgentExecution, TokenUsage, User
from aa_notebooks.db.url import resolve_url

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
U1 = uuid.UUID("11111111-1111-4111-8111-111111111111")
U2 = uuid.UUID("22222222-2222-4222-8222-222222222222")
CLAUDE, MINI, UNPRICED = "claude-3-5-sonnet", "gpt-4o-mini", "acme-vision-beta"

_H, _D = timedelta(hours=1), timedelta(days=1)
# n, started, user, model, input, output, cost
_EXECUTIONS = [
    (1, NOW - _H, U1, "gpt-4o", 1000, 300, "0.010000"),
    (2, NOW - _D, U2, MINI, 400, 100, "0.000120"),
    (3, NOW - 2 * _D, U1, CLAUDE, 410, 150, "0.002151"),
    (4, NOW - 2 * _D - _H, U1, "gpt-4o", 500, 100, "0.002500"),
    (5, NOW - 3 * _D, U2, None, 100, 100, "0.000075"),
    (6, NOW - 8 * _D, U1, "gpt-4o", 100, 0, "0.500000"),
]
# execution, component, model, input, output, cost
_USAGES = [
    (1, "main_agent", "gpt-4o", 600, 200, "0.006000"),
    (1, "tool_call", CLAUDE, 300, 50, "0.003000"),
    (1, "sub_agent", MINI, 100, 50, "0.001000"),
    (3, "main_agent", CLAUDE, 200, 100, "0.002100"),
    (3, "tool_call", UNPRICED, 50, 10, "0.000000"),
    (3, "sub_agent", MINI, 100, 20, "0.000030"),
    (3, "sub_agent", MINI, 60, 20, "0.000021"),
    (4, "main_agent", "gpt-4o", 400, 80, "0.001800"),
    (4, "tool_call", MINI, 100, 20, "0.000027"),
    (5, "main_agent", MINI, 100, 100, "0.000075"),
    (6, "tool_call", CLAUDE, 100, 0, "0.500000"),
]


def xid(n: int) -> uuid.UUID:
    """The id of execution Xn."""
    return uuid.UUID(f"00000000-0000-4000-8000-{0xC0DE00 + n:012x}")


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _rows() -> dict[str, list[dict[str, Any]]]:
    """Each table's rows as column dicts (naive UTC times, Decimal money)."""
    executions = [
        {
            "id": xid(n),
            "user_id": user,
            "request_id": uuid.UUID(int=0xAA00 + n),
            "session_id": uuid.UUID(int=0xBB00 + n),
            "agent_name": "assistant",
            "model_name": model,
            "status": "success",
            "input_tokens": tin,
            "output_tokens": tout,
            "total_tokens": tin + tout,
            "cost_usd": Decimal(cost),
            "execution_time_ms": 1000,
            "started_at": _naive(started),
        }
        for n, started, user, model, tin, tout, cost in _EXECUTIONS
    ]
    usages = [
        {
            "id": uuid.UUID(int=0xDD00 + i),
            "execution_id": xid(n),
            "component": component,
            "model": model,
            "input_tokens": tin,
            "output_tokens": tout,
            "cost_usd": Decimal(cost),
        }
        for i, (n, component, model, tin, tout, cost) in enumerate(_USAGES)
    ]
    return {"users": [{"id": U1}, {"id": U2}], "agentexecutions": executions, "tokenusages": usages}


def load(url: str) -> None:
    """Insert the dataset into a database with the kit's schema."""
    engine = create_engine(resolve_url(url))
    rows = _rows()
    try:
        with engine.begin() as connection:
            for table in (User, AgentExecution, TokenUsage):
                connection.execute(insert(table.__table__), rows[table.__tablename__])
    finally:
        engine.dispose()


def load_plain_sql(url: str) -> None:
    """Insert the dataset with plain INSERT statements (for a database made by other DDL)."""
    engine = create_engine(resolve_url(url))
    try:
        with engine.begin() as connection:
            for table, rows in _rows().items():
                names = list(rows[0])
                connection.execute(
                    text(
                        f"INSERT INTO {table} ({', '.join(names)}) "
                        f"VALUES ({', '.join(':' + name for name in names)})"
                    ),
                    rows,
                )
    finally:
        engine.dispose()
