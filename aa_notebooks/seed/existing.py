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
    table_of,
)
from aa_notebooks.errors import InvalidInputError
from aa_notebooks.seed.catalog import USERS


def refuse_existing(connection: Connection) -> None:
    """Raise InvalidInputError when the database already holds executions."""
    count = _executions(connection)
    if count:
        raise InvalidInputError(
            f"the database already holds {count:,} executions; pass reset=True "
            "(CLI: --reset) to delete them, with the budgets, and seed again"
        )


def delete_kit_rows(connection: Connection) -> int:
    """Delete every execution (with its steps and usages), every budget and the demo users.

    Children go first, explicitly, rather than by cascade: independent of SQLite's foreign_keys
    setting. PostgreSQL truncates the execution tables: instant, where deleting a million
    executions' rows takes minutes and leaves them all as dead tuples. Returns how many
    executions there were.
    """
    count = _executions(connection)
    executions = (ExecutionTrace, TokenUsage, AgentExecution)
    if connection.dialect.name == "postgresql":
        names = ", ".join(model.__tablename__ for model in executions)
        connection.exec_driver_sql(f"TRUNCATE {names}")
    else:
        for model in executions:
            connection.execute(table_of(model).delete())
    for alerts in (BudgetAlertEvent, BudgetAlert):
        connection.execute(table_of(alerts).delete())
    users = table_of(User)
    connection.execute(users.delete().where(users.c.id.in_([u.id for u in USERS])))
    return count


def _executions(connection: Connection) -> int:
    return connection.execute(select(func.count()).select_from(AgentExecution)).scalar_one()
