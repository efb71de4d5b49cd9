"""The spend ledger's rows as the executions give them: its keys and its refill from them.

The budgets read the ledger (`budgets.ledger`); it lives here, below them, because rebuilding
the rollups refills it: a rebuild clears the marks of hours whose rows were written behind the
kit's writers, by which a hard-stop check knew not to trust the ledger there (`budgets.spend`),
so every rebuild of a day also refills that day's ledger hours, in the same transaction.
Each execution adds its cost to one key per scope it belongs to: ("global", ""), ("user", its
user id), ("agent", its name), ("agent", its id) and ("flow", its flow).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    delete,
    func,
    inspect,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping

from aa_notebooks.db.rollups.record import micros
from aa_notebooks.db.schema import (
    AgentExecution,
    BudgetScope,
    BudgetSpendLedger,
    KitMetadata,
    UTCDateTime,
    table_of,
)

LedgerKey = tuple[str, str]
LEDGER = table_of(BudgetSpendLedger)
META = table_of(KitMetadata)
EXECUTIONS = table_of(AgentExecution)
TRUSTED_KEY = "budget_spend_ledger"
"""The aa_notebooks_meta key marking the ledger as filled from the executions."""


def execution_keys(execution: Mapping[str, Any] | RowMapping) -> set[LedgerKey]:
    """The ledger keys an execution's cost counts towards (a set: no key counted twice)."""
    keys = {(BudgetScope.global_.value, "")}
    if (user_id := execution.get("user_id")) is not None:
        keys.add((BudgetScope.user.value, str(_uuid(user_id))))
    if agent_name := execution.get("agent_name"):
        keys.add((BudgetScope.agent.value, agent_name))
    if (agent_id := execution.get("agent_id")) is not None:
        keys.add((BudgetScope.agent.value, str(_uuid(agent_id))))
    if flow_id := execution.get("flow_id"):
        keys.add((BudgetScope.flow.value, flow_id))
    return keys


def _uuid(value: uuid.UUID | str) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def upsert_spend(connection: Connection, totals: Mapping[tuple[str, str, datetime], int]) -> None:
    """Add micro-dollars to (scope, key, hour) rows, creating missing ones; sorted, so writers
    lock rows in one order."""
    if not totals:
        return
    rows = [
        {"scope": scope, "scope_key": key, "hour": hour, "spend_micro_usd": micros}
        for (scope, key, hour), micros in sorted(totals.items())
    ]
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(LEDGER)
    statement = insert.on_conflict_do_update(
        index_elements=[LEDGER.c.scope, LEDGER.c.scope_key, LEDGER.c.hour],
        set_={"spend_micro_usd": LEDGER.c.spend_micro_usd + insert.excluded.spend_micro_usd},
    )
    connection.execute(statement, rows)


def ledger_in_use(connection: Connection) -> bool:
    """Whether this database has a ledger the budgets trust (filled from the executions once)."""
    return inspect(connection).has_table(LEDGER.name) and marked_trusted(connection)


def marked_trusted(connection: Connection) -> bool:
    """Whether the ledger is marked as filled from the executions (aa_notebooks_meta)."""
    marked = connection.execute(select(META.c.value).where(META.c.key == TRUSTED_KEY)).first()
    return marked is not None


def refill_ledger(
    connection: Connection, lower: datetime | None = None, upper: datetime | None = None
) -> None:
    """Replace the ledger's hours in [lower, upper) (unbounded where None) by the executions'
    spend, in the caller's write transaction (on PostgreSQL it locks the ledger first)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"LOCK TABLE {LEDGER.name} IN EXCLUSIVE MODE"))
    removed = delete(LEDGER)
    if lower is not None:
        removed = removed.where(LEDGER.c.hour >= lower)
    if upper is not None:
        removed = removed.where(LEDGER.c.hour < upper)
    connection.execute(removed)
    totals: defaultdict[tuple[str, str, datetime], int] = defaultdict(int)
    for group in connection.execute(_hourly_spend(connection, lower, upper)).mappings():
        for scope, key in execution_keys(group):
            totals[(scope, key, group["hour"])] += micros(group["cost_usd"])
    upsert_spend(connection, totals)


def _hourly_spend(
    connection: Connection, lower: datetime | None, upper: datetime | None
) -> Select[Any]:
    """Spend per (user, agent, flow, hour) of the executions that cost something, started in
    [lower, upper)."""
    columns = EXECUTIONS.c
    hour = type_coerce(_hour_of(connection, columns.started_at), UTCDateTime()).label("hour")
    keys: list[Any] = [columns.user_id, columns.agent_id, columns.agent_name]
    if "flow_id" in {c["name"] for c in inspect(connection).get_columns(EXECUTIONS.name)}:
        keys.append(columns.flow_id)
    conditions = [columns.cost_usd > 0, columns.started_at.is_not(None)]
    if lower is not None:
        conditions.append(columns.started_at >= lower)
    if upper is not None:
        conditions.append(columns.started_at < upper)
    return (
        select(*keys, hour, func.sum(columns.cost_usd).label("cost_usd"))
        .where(*conditions)
        .group_by(*keys, hour)
    )


def _hour_of(connection: Connection, column: ColumnElement[Any]) -> ColumnElement[Any]:
    """SQL for the start of the hour of a timestamp column."""
    if connection.dialect.name == "postgresql":
        return func.date_trunc("hour", column)
    return func.strftime("%Y-%m-%d %H:00:00", column)
