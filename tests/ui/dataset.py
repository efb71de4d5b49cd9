"""A small hand-made dataset for the widget tests, with hostile text in every text column.

`NOW` is 2026-11-25 12:00 UTC; the 7d window is [2026-11-18 12:00, 2026-11-25 12:00] and the
previous one [2026-11-11 12:00, 2026-11-18 12:00).

    id  started  user status  agent       model              in  out  cost   time_ms
    E1  now-1h   U1   success planner     gpt-4o            100   50  0.15     1000
    E2  now-1d   U1   success planner     claude-3-5-sonnet 200  100  0.30     2000
    E3  now-2d   U2   failure IMG (name)  gpt-4o            300    0  0.09      500
    E4  now-3d   U2   timeout researcher  IMG (unpriced)    400    0  0.00   120000
    E5  now-5d   U1   success researcher  claude-3-5-sonnet 600  300  0.63     4000
    E6  now-8d   U1   success planner     gpt-4o           1000  500  0.10     3000  previous 7d
    E7  now-10d  U2   failure planner     gpt-4o             50    0  0.005     100  previous 7d
    E8  now-20d  U1   success researcher  claude-3-5-sonnet 5000 5000 0.50     5000

E1 has four trace steps (one long, one holding IMG, one SCRIPT) and two token usage rows (one
component named SCRIPT); E2 has none. E1's preview and E3's error message are SCRIPT, E3's
preview and agent name are IMG.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import create_engine, insert

from aa_notebooks.db.schema import AgentExecution, ExecutionTrace, TokenUsage, User
from aa_notebooks.db.url import resolve_url

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
HOSTILE = (SCRIPT, IMG)
LONG = "42 is the answer. " * 40
U1 = uuid.UUID("11111111-1111-4111-8111-111111111111")
U2 = uuid.UUID("22222222-2222-4222-8222-222222222222")
PLANNER = uuid.UUID("aaaaaaaa-aaaa-4aaa-8aaa-000000000001")
RESEARCHER = uuid.UUID("aaaaaaaa-aaaa-4aaa-8aaa-000000000002")
AGENTS = {"planner": (PLANNER, "planner"), "researcher": (RESEARCHER, "researcher"),
          "IMG": (None, IMG)}  # fmt: skip


def eid(n: int) -> uuid.UUID:
    """The id of execution En."""
    return uuid.UUID(f"00000000-0000-4000-8000-{n:012d}")


_H, _D = timedelta(hours=1), timedelta(days=1)
# n, started, user, status, agent, model, input, output, cost, time_ms, preview, error
_EXECUTIONS = [
    (1, NOW - _H, U1, "success", "planner", "gpt-4o", 100, 50, "0.15", 1000, SCRIPT, None),
    (2, NOW - _D, U1, "success", "planner", "claude-3-5-sonnet", 200, 100, "0.30", 2000,
     "What is 6*7?", None),
    (3, NOW - 2 * _D, U2, "failure", "IMG", "gpt-4o", 300, 0, "0.09", 500, IMG, SCRIPT),
    (4, NOW - 3 * _D, U2, "timeout", "researcher", IMG, 400, 0, "0", 120000, "plain question",
     None),
    (5, NOW - 5 * _D, U1, "success", "researcher", "claude-3-5-sonnet", 600, 300, "0.63", 4000,
     "Summarise the report", None),
    (6, NOW - 8 * _D, U1, "success", "planner", "gpt-4o", 1000, 500, "0.10", 3000, "older", None),
    (7, NOW - 10 * _D, U2, "failure", "planner", "gpt-4o", 50, 0, "0.005", 100, "older failure",
     "boom"),
    (8, NOW - 20 * _D, U1, "success", "researcher", "claude-3-5-sonnet", 5000, 5000, "0.50", 5000,
     "twenty days ago", None),
]  # fmt: skip
# execution, step_number, step_type, content, input, output, duration_ms (stored out of order)
_TRACES = [
    (1, 3, "observation", LONG, 0, 0, 50),
    (1, 1, "thought", "I should call the calculator", 30, 10, 100),
    (1, 4, "final_answer", SCRIPT, 10, 35, 150),
    (1, 2, "tool_call", IMG, 20, 5, 200),
]
# execution, component, model, input, output, cost, step_number
_USAGES = [
    (1, "main_agent", "gpt-4o", 60, 45, "0.10", 1),
    (1, SCRIPT, "gpt-4o", 40, 5, "0.05", 2),
]


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _executions() -> list[dict[str, Any]]:
    rows = []
    for n, started, user, status, agent, model, tin, tout, cost, ms, preview, error in _EXECUTIONS:
        agent_id, agent_name = AGENTS[agent]
        rows.append(
            {
                "id": eid(n),
                "user_id": user,
                "request_id": uuid.UUID(int=0xAA00 + n),
                "session_id": uuid.UUID(int=0xBB00 + n),
                "agent_id": agent_id,
                "agent_name": agent_name,
                "agent_type": "react",
                "model_name": model,
                "status": status,
                "input_tokens": tin,
                "output_tokens": tout,
                "total_tokens": tin + tout,
                "cost_usd": Decimal(cost),
                "execution_time_ms": ms,
                "llm_time_ms": ms // 2,
                "query_preview": preview,
                "error_type": "ToolError" if error else None,
                "error_message": error,
                "started_at": _naive(started),
                "completed_at": _naive(started + timedelta(milliseconds=ms)),
            }
        )
    return rows


def _traces() -> list[dict[str, Any]]:
    return [
        {
            "id": uuid.UUID(int=0xCC00 + i),
            "execution_id": eid(n),
            "step_number": step,
            "step_type": kind,
            "content": content,
            "input_tokens": tin,
            "output_tokens": tout,
            "duration_ms": ms,
            "timestamp": _naive(NOW - _H + timedelta(seconds=step)),
        }
        for i, (n, step, kind, content, tin, tout, ms) in enumerate(_TRACES)
    ]


def _usages() -> list[dict[str, Any]]:
    return [
        {
            "id": uuid.UUID(int=0xDD00 + i),
            "execution_id": eid(n),
            "component": component,
            "model": model,
            "input_tokens": tin,
            "output_tokens": tout,
            "cost_usd": Decimal(cost),
            "step_number": step,
        }
        for i, (n, component, model, tin, tout, cost, step) in enumerate(_USAGES)
    ]


def load(url: str) -> None:
    """Insert the dataset into a database with the kit's schema."""
    engine = create_engine(resolve_url(url))
    try:
        with engine.begin() as conn:
            conn.execute(insert(User.__table__), [{"id": U1}, {"id": U2}])
            conn.execute(insert(AgentExecution.__table__), _executions())
            conn.execute(insert(ExecutionTrace.__table__), _traces())
            conn.execute(insert(TokenUsage.__table__), _usages())
    finally:
        engine.dispose()
