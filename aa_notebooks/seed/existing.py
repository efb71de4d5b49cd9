"""What a seed finds in the database: refuse to mix with existing executions, or clear them."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from aa_notebooks.db.schema import (
    AgentExecution,
    BudgetAlert,
    BudgetAlertEvent,
    ExecutionTrace,
    TokenUsage,
    User,
)
from aa_notebooks.errors import InvalidInputError
from aa_notebooks.seed.catalog import USERS


def refuse_existing(connection: Connection) -> int:
    """Raise InvalidInputError when the database already holds executions; else 0 (deleted)."""
    count = connection.execute(select(func.count()).select_from(AgentExecution)).scalar_one()
    if count:
        raise InvalidInputError(
            f"the database already holds {count:,} executions; pass reset=True "
            "(CLI: --reset) to delete them, with the budgets, and seed again"
        )
    return 0


def delete_kit_rows(connection: Connection) -> int:
    """Delete every execution (with its steps and usages), every budget and the demo users.

    Children go first, explicitly, rather than by cascade: faster, and independent of SQLite's
    foreign_keys setting. Returns how many executions were deleted.
    """
    for table in (ExecutionTrace, TokenUsage, BudgetAlertEvent, BudgetAlert):
        connection.execute(table.__table__.delete())
    deleted = connection.execute(AgentExecution.__table__.delete()).rowcount
    users = User.__table__
    connection.execute(users.delete().where(users.c.id.in_([u.id for u in USERS])))
    return deleted
