"""A tiny hand-made dataset for the HTTP API, whose answers the tests write down by hand.

NOW is 2025-03-10 12:00 UTC; the default 7d window is [2025-03-03 12:00, NOW].

    id  started   user status   agent               model        in    out   cost      ms
    A1  now-1h    U1   success  planner (PLANNER)   gpt-4o       1000   200  0.004500   1000
    A2  now-2h    U1   failure  planner (PLANNER)   gpt-4o-mini   400   100  0.000120   3000
    A3  now-1d    U2   success  writer (no id)      gpt-4o       2000  1000  0.015000   2000
    A4  now-3d    U2   timeout  writer (no id)      gpt-4o-mini     0     0  0.000000  30000
    A5  now-10d   U1   success  planner (PLANNER)   gpt-4o          1     1  1.000000    100

A1 has two trace steps and one token usage; the others have none.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert

from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import AgentExecution, ExecutionTrace, TokenUsage, User

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
U1 = uuid.UUID("11111111-1111-4111-8111-111111111111")
U2 = uuid.UUID("22222222-2222-4222-8222-222222222222")
PLANNER = uuid.UUID("aaaaaaaa-aaaa-4aaa-8aaa-000000000001")
A = {n: uuid.UUID(f"00000000-0000-4000-8000-00000000000{n}") for n in range(1, 6)}

_H, _D = timedelta(hours=1), timedelta(days=1)
_ROWS = [
    (1, NOW - _H, U1, "success", PLANNER, "planner", "gpt-4o", 1000, 200, "0.004500", 1000),
    (2, NOW - 2 * _H, U1, "failure", PLANNER, "planner", "gpt-4o-mini", 400, 100, "0.000120", 3000),
    (3, NOW - _D, U2, "success", None, "writer", "gpt-4o", 2000, 1000, "0.015000", 2000),
    (4, NOW - 3 * _D, U2, "timeout", None, "writer", "gpt-4o-mini", 0, 0, "0.000000", 30000),
    (5, NOW - 10 * _D, U1, "success", PLANNER, "planner", "gpt-4o", 1, 1, "1.000000", 100),
]  # fmt: skip


def load(url: str) -> None:
    """Insert the users, executions, A1's steps and A1's token usage."""
    executions = [
        {
            "id": A[n], "user_id": user, "request_id": A[n], "session_id": A[n],
            "agent_id": agent_id, "agent_name": name, "agent_type": "react", "model_name": model,
            "status": status, "input_tokens": tin, "output_tokens": tout,
            "total_tokens": tin + tout, "cost_usd": Decimal(cost), "execution_time_ms": ms,
            "llm_time_ms": ms // 2, "query_preview": f"question {n}",
            "error_type": "ToolError" if status == "failure" else None,
            "error_message": "the tool broke" if status == "failure" else None,
            "started_at": started, "completed_at": started + timedelta(milliseconds=ms),
        }
        for n, started, user, status, agent_id, name, model, tin, tout, cost, ms in _ROWS
    ]  # fmt: skip
    steps = [
        {"id": uuid.uuid4(), "execution_id": A[1], "step_number": 1, "step_type": "thought",
         "content": "plan", "input_tokens": 1000, "output_tokens": 200, "duration_ms": 400,
         "timestamp": NOW - _H},
        {"id": uuid.uuid4(), "execution_id": A[1], "step_number": 2, "step_type": "final_answer",
         "content": "42", "input_tokens": 0, "output_tokens": 0, "duration_ms": 100,
         "timestamp": NOW - _H},
    ]  # fmt: skip
    usage = {
        "id": uuid.uuid4(), "execution_id": A[1], "component": "main_agent", "model": "gpt-4o",
        "input_tokens": 1000, "output_tokens": 200, "cost_usd": Decimal("0.004500"),
        "step_number": 1,
    }  # fmt: skip
    with get_engine(url).begin() as connection:
        connection.execute(insert(User.__table__), [{"id": U1}, {"id": U2}])
        connection.execute(insert(AgentExecution.__table__), executions)
        connection.execute(insert(ExecutionTrace.__table__), steps)
        connection.execute(insert(TokenUsage.__table__), [usage])
