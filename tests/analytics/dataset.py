"""A small hand-made dataset whose answers the tests write down by hand.

`NOW` is 2026-11-25 12:00 UTC, so the default 7d window is [2026-11-18 12:00, 2026-11-25 12:00].
E01..E08 are inside it (E01 exactly at now, E02 exactly at now - 7d); E09 is 7d + 1 minute ago,
E10 20 days ago, E11 one minute in the future, E12 40 days ago. Two users, all three statuses,
an agent with an id (planner, researcher) and agents with only a name (one named like an HTML
script, one like an SQL injection), an unpriced model, and text with quotes, HTML and
spreadsheet formulas.

Per-execution facts (time in ms, cost in USD):

    id   started          user status  agent       model              in   out  cost      time
    E01  now              U1   success planner     gpt-4o             100   50  0.001500   1000
    E02  now-7d           U1   success planner     gpt-4o             200  100  0.003000   2000
    E03  now-1h           U2   failure SCRIPT      claude-3-5-sonnet  300    0  0.000900    500
    E04  now-2d           U2   timeout DROP        gpt-4o             400    0  0.004000 120000
    E05  now-3d           U1   success planner     acme-internal-llm 1000  500  0.000000   3000
    E06  now-1d-6h        U1   success SCRIPT      claude-3-5-sonnet   50   25  0.000225    700
    E07  now-5d           U2   failure planner     gpt-4o              10    0  0.000100    250
    E08  now-6d-23h       U1   success researcher  claude-3-5-sonnet  600  300  0.006300   4000
    E09  now-7d-1min      U1   success planner     gpt-4o             999    1  1.000000  99999
    E10  now-20d          U2   success planner     gpt-4o            5000 5000  0.500000   5000
    E11  now+1min         U1   success planner     gpt-4o               1    1  2.000000      1
    E12  now-40d          U1   success researcher  claude-3-5-sonnet    1    1  0.250000      1
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, create_engine, insert, text

from aa_notebooks.db.schema import AgentExecution, ExecutionTrace, TokenUsage, User
from aa_notebooks.db.url import resolve_url

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
U1 = uuid.UUID("11111111-1111-4111-8111-111111111111")
U2 = uuid.UUID("22222222-2222-4222-8222-222222222222")
PLANNER_ID = uuid.UUID("aaaaaaaa-aaaa-4aaa-8aaa-000000000001")
RESEARCHER_ID = uuid.UUID("aaaaaaaa-aaaa-4aaa-8aaa-000000000002")
SCRIPT = "<script>alert('agent')</script>"
DROP = "'; DROP TABLE agentexecutions; --"
UNPRICED = "acme-internal-llm"

AGENTS = {
    "planner": (PLANNER_ID, "planner"),
    "researcher": (RESEARCHER_ID, "researcher"),
    "SCRIPT": (None, SCRIPT),
    "DROP": (None, DROP),
}


def eid(n: int) -> uuid.UUID:
    """The id of execution En."""
    return uuid.UUID(f"00000000-0000-4000-8000-{n:012d}")


E = {n: eid(n) for n in range(1, 13)}

_H, _D, _M = timedelta(hours=1), timedelta(days=1), timedelta(minutes=1)
# n, started, user, status, agent, model, input, output, cost, time_ms, query_preview
_EXECUTIONS = [
    (1, NOW, U1, "success", "planner", "gpt-4o", 100, 50, "0.001500", 1000, "What is 6*7?"),
    (2, NOW - 7 * _D, U1, "success", "planner", "gpt-4o", 200, 100, "0.003000", 2000,
     '\tShe said "hi" & left'),
    (3, NOW - _H, U2, "failure", "SCRIPT", "claude-3-5-sonnet", 300, 0, "0.000900", 500,
     '=HYPERLINK("http://evil.example","click")'),
    (4, NOW - 2 * _D, U2, "timeout", "DROP", "gpt-4o", 400, 0, "0.004000", 120000, DROP),
    (5, NOW - 3 * _D, U1, "success", "planner", UNPRICED, 1000, 500, "0.000000", 3000,
     "+SUM(A1:A2)"),
    (6, NOW - _D - 6 * _H, U1, "success", "SCRIPT", "claude-3-5-sonnet", 50, 25, "0.000225", 700,
     '<script>alert("preview")</script>'),
    (7, NOW - 5 * _D, U2, "failure", "planner", "gpt-4o", 10, 0, "0.000100", 250, "@cmd"),
    (8, NOW - 6 * _D - 23 * _H, U1, "success", "researcher", "claude-3-5-sonnet", 600, 300,
     "0.006300", 4000, "-2+3"),
    (9, NOW - 7 * _D - _M, U1, "success", "planner", "gpt-4o", 999, 1, "1.000000", 99999,
     "just outside"),
    (10, NOW - 20 * _D, U2, "success", "planner", "gpt-4o", 5000, 5000, "0.500000", 5000,
     "twenty days ago"),
    (11, NOW + _M, U1, "success", "planner", "gpt-4o", 1, 1, "2.000000", 1, "in the future"),
    (12, NOW - 40 * _D, U1, "success", "researcher", "claude-3-5-sonnet", 1, 1, "0.250000", 1,
     "forty days ago"),
]  # fmt: skip

# E01's steps are stored out of order on purpose; E03's content holds HTML and a formula.
# execution, step_number, step_type, content, input, output, duration_ms
_TRACES = [
    (1, 3, "observation", "=42", 0, 0, 50),
    (1, 1, "thought", "I should call the calculator", 30, 10, 100),
    (1, 4, "final_answer", "The answer is 42", 10, 35, 150),
    (1, 2, "tool_call", "calculator(6*7)", 20, 5, 200),
    (3, 2, "action", "-1+1", 0, 0, 80),
    (3, 1, "thought", "<b>bold</b> & 'quotes'", 300, 0, 120),
]  # fmt: skip
# execution, component, model, input, output, cost, step_number
_USAGES = [
    (1, "tool_call", "gpt-4o", 40, 5, "0.000500", 2),
    (1, "main_agent", "gpt-4o", 60, 45, "0.001000", 1),
    (3, "main_agent", "claude-3-5-sonnet", 300, 0, "0.000900", None),
]  # fmt: skip


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def users() -> list[dict[str, Any]]:
    """The two users (id only: the data contract's users table may have nothing else)."""
    return [{"id": U1}, {"id": U2}]


def executions() -> list[dict[str, Any]]:
    """The executions as column dicts (naive UTC times, Decimal money)."""
    rows = []
    for n, started, user, status, agent, model, tin, tout, cost, ms, preview in _EXECUTIONS:
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
                "error_type": "ToolError" if status == "failure" else None,
                "error_message": "it broke <badly>" if status == "failure" else None,
                "started_at": _naive(started),
                "completed_at": _naive(started + timedelta(milliseconds=ms)),
            }
        )
    return rows


def traces() -> list[dict[str, Any]]:
    """The trace steps as column dicts."""
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
            "timestamp": _naive(NOW - timedelta(seconds=10 - step)),
        }
        for i, (n, step, kind, content, tin, tout, ms) in enumerate(_TRACES)
    ]


def usages() -> list[dict[str, Any]]:
    """The token usage rows as column dicts."""
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


def _engine(url: str) -> Engine:
    return create_engine(resolve_url(url))


def load(url: str) -> None:
    """Insert the dataset into a database with the kit's schema (SQLAlchemy Core)."""
    engine = _engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(insert(User.__table__), users())
            conn.execute(insert(AgentExecution.__table__), executions())
            conn.execute(insert(ExecutionTrace.__table__), traces())
            conn.execute(insert(TokenUsage.__table__), usages())
    finally:
        engine.dispose()


def load_plain_sql(url: str) -> None:
    """Insert the dataset with plain INSERT statements (for a database made by other DDL)."""
    engine = _engine(url)
    try:
        with engine.begin() as conn:
            for table, rows in (
                ("users", users()),
                ("agentexecutions", executions()),
                ("executiontraces", traces()),
                ("tokenusages", usages()),
            ):
                names = list(rows[0])
                statement = text(
                    f"INSERT INTO {table} ({', '.join(names)}) "
                    f"VALUES ({', '.join(':' + n for n in names)})"
                )
                conn.execute(statement, rows)
    finally:
        engine.dispose()
