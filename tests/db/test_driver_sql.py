"""Core statements run as driver SQL: expanding IN lists of any length, and values converted both
ways as SQLAlchemy converts them (UUIDs, timestamps, Decimals, enums, booleans)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import bindparam, select

from aa_notebooks.db.driver_sql import driver_fetch
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import (
    AgentExecution,
    BudgetAlert,
    BudgetAlertType,
    BudgetScope,
    ExecutionStatus,
    User,
    table_of,
)

BUDGETS, EXECUTIONS = table_of(BudgetAlert), table_of(AgentExecution)
ANN, BEN, CAL = (uuid.UUID(int=n) for n in (1, 2, 3))
BUDGET_ROWS = [  # (id, owner, threshold, active)
    (uuid.UUID(int=11), ANN, Decimal("5.25"), True),
    (uuid.UUID(int=12), BEN, Decimal("7.50"), False),
    (uuid.UUID(int=13), CAL, Decimal("9.00"), True),
]
BY_OWNERS = (
    select(BUDGETS.c.id, BUDGETS.c.threshold_usd, BUDGETS.c.scope, BUDGETS.c.is_active)
    .where(
        BUDGETS.c.user_id.in_(bindparam("owners", expanding=True)),
        BUDGETS.c.alert_type == BudgetAlertType.hard_stop,
    )
    .order_by(BUDGETS.c.id)
)
NOON = datetime(2024, 6, 1, 12, tzinfo=UTC)


def test_expanding_lists_of_any_length_and_values_as_sqlalchemy_reads_them(db_url: str) -> None:
    engine = get_engine(db_url)
    with engine.begin() as connection:
        connection.execute(table_of(User).insert(), [{"id": owner} for owner in (ANN, BEN, CAL)])
        connection.execute(BUDGETS.insert(), [
            {"id": id_, "user_id": owner, "scope": BudgetScope.user, "threshold_usd": threshold,
             "alert_type": BudgetAlertType.hard_stop, "is_active": active}
            for id_, owner, threshold, active in BUDGET_ROWS
        ])  # fmt: skip
    ann = (uuid.UUID(int=11), Decimal("5.25"), BudgetScope.user, True)
    ben = (uuid.UUID(int=12), Decimal("7.50"), BudgetScope.user, False)
    cal = (uuid.UUID(int=13), Decimal("9.00"), BudgetScope.user, True)
    expected = {
        (): [],
        (BEN,): [ben],
        (ANN, CAL): [ann, cal],
        (CAL, uuid.UUID(int=99), ANN): [ann, cal],
    }
    for owners, rows in expected.items():
        found = driver_fetch(engine, BY_OWNERS, {"owners": list(owners)})
        assert found == rows, owners
        kinds = [type(value) for row in found for value in row]
        assert kinds == [uuid.UUID, Decimal, BudgetScope, bool] * len(rows)


def test_timestamps_are_bound_and_read_as_utc(db_url: str) -> None:
    engine = get_engine(db_url)
    with engine.begin() as connection:
        connection.execute(EXECUTIONS.insert(), [
            {"id": uuid.UUID(int=n), "request_id": uuid.uuid4(), "session_id": uuid.uuid4(),
             "status": ExecutionStatus.success, "cost_usd": Decimal("0.000001") * n,
             "started_at": NOON + timedelta(minutes=n)}
            for n in (1, 2, 3)
        ])  # fmt: skip
    since = bindparam("since")
    query = select(EXECUTIONS.c.started_at, EXECUTIONS.c.cost_usd).where(
        EXECUTIONS.c.started_at >= since
    )
    paris = timezone(timedelta(hours=2))  # 14:02 in Paris is 12:02 UTC
    found = driver_fetch(
        engine,
        query.order_by(EXECUTIONS.c.started_at),
        {"since": datetime(2024, 6, 1, 14, 2, tzinfo=paris)},
    )
    assert found == [
        (NOON + timedelta(minutes=2), Decimal("0.000002")),
        (NOON + timedelta(minutes=3), Decimal("0.000003")),
    ]
    assert all(started.tzinfo is not None for started, _ in found)
