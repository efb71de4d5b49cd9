"""What the attached database offers budgets, looked up once per engine.

The kit's own database has everything. An AgentOS database made by the contract's DDL lacks
budgetalerts.name/target, agentexecutions.flow_id and the kit's tables: there, global and user
budgets work (spend is summed from the executions on every check, with no ledger), agent and flow
budgets are unavailable, and alert events (hence emails) are not recorded.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, inspect
from sqlalchemy.engine.reflection import Inspector

from aa_notebooks.budgets.model import Budget
from aa_notebooks.db.schema import (
    AgentExecution,
    BudgetAlert,
    BudgetAlertEvent,
    BudgetScope,
    BudgetSpendLedger,
    KitMetadata,
)
from aa_notebooks.errors import SchemaError, UnsupportedHereError

LEDGER_TABLE = BudgetSpendLedger.__tablename__
_cache: weakref.WeakKeyDictionary[Engine, Capabilities] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Capabilities:
    """The budget-related tables and columns the database has."""

    budget_columns: frozenset[str]
    execution_columns: frozenset[str]
    has_budgets: bool
    has_events: bool
    has_ledger: bool
    kit_owned: bool

    @property
    def has_targets(self) -> bool:
        return "target" in self.budget_columns

    @property
    def has_per_user(self) -> bool:
        return "per_user" in self.budget_columns

    @property
    def has_flows(self) -> bool:
        return "flow_id" in self.execution_columns

    def require_budgets(self) -> None:
        """Raise SchemaError when there is no budgetalerts table at all."""
        if not self.has_budgets:
            raise SchemaError(
                "this database has no budgetalerts table; run `aa-notebooks init-db` to create "
                "the kit's tables, or point AA_DATABASE_URL at the analytics database"
            )

    def unavailable(self, budget: Budget) -> str | None:
        """Why this budget cannot be evaluated here, or None when it can: its scope needs
        columns this database lacks, or it was stored with values no budget can have."""
        scope = budget.scope
        if scope in (BudgetScope.agent, BudgetScope.flow) and not self.has_targets:
            return (
                f"{scope.value} budgets need the budgetalerts.target column, which this database "
                "lacks (a GenAI AgentOS database); use a global or user budget here"
            )
        if scope is BudgetScope.flow and not self.has_flows:
            return (
                "flow budgets need the agentexecutions.flow_id column, which this database lacks; "
                "use a global, user or agent budget here"
            )
        return budget.stored_problem

    def require(self, budget: Budget) -> None:
        """Raise UnsupportedHereError when this database cannot hold or evaluate the budget."""
        if reason := self.unavailable(budget):
            raise UnsupportedHereError(reason)
        if budget.name is not None and "name" not in self.budget_columns:
            raise UnsupportedHereError(
                "this database has no budgetalerts.name column (a GenAI AgentOS database): "
                "leave out name; the budget is shown by its id"
            )
        if budget.alert_levels and "alert_levels" not in self.budget_columns:
            raise UnsupportedHereError(
                "this database has no budgetalerts.alert_levels column (a GenAI AgentOS "
                "database): leave out alert_levels and warn at alert_at_percentage"
            )
        if budget.per_user and not self.has_per_user:
            raise UnsupportedHereError(
                "this database has no budgetalerts.per_user column (a GenAI AgentOS database, "
                "or one `aa-notebooks init-db` has not migrated): make a user budget per user"
            )


def capabilities(bind: Engine | Connection) -> Capabilities:
    """The database's capabilities, inspected on first use per engine and then remembered.

    Tables created later in the same process (init-db after first use) are seen once the
    engine is disposed (`dispose_engine`)."""
    engine = bind if isinstance(bind, Engine) else bind.engine
    found = _cache.get(engine)
    if found is None:
        inspector = inspect(bind)
        tables = set(inspector.get_table_names())
        found = Capabilities(
            budget_columns=_columns(inspector, tables, BudgetAlert.__tablename__),
            execution_columns=_columns(inspector, tables, AgentExecution.__tablename__),
            has_budgets=BudgetAlert.__tablename__ in tables,
            has_events=BudgetAlertEvent.__tablename__ in tables,
            has_ledger=LEDGER_TABLE in tables,
            kit_owned=KitMetadata.__tablename__ in tables,
        )
        _cache[engine] = found
    return found


def _columns(inspector: Inspector, tables: set[str], table: str) -> frozenset[str]:
    """The table's column names; none when the table is missing."""
    if table not in tables:
        return frozenset()
    return frozenset(column["name"] for column in inspector.get_columns(table))
