"""A budget's spend over its window: exactly from the executions, or cheaply from the ledger.

From the ledger, the window [start, end] is split at whole hours: the hours wholly inside it come
from the ledger, and the two partial hours at its ends, [start, first whole hour) and [last whole
hour, end], are summed from the executions (under an hour of rows each, through the started_at
indexes). Both give the same number; the ledger way reads at most 24 * period_days ledger rows
instead of every execution of the window.

The statements are built once per kind of scope, with bound parameters, so a check pays for
executing them, not for building and compiling them.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, bindparam, func, or_, select, true

from aa_notebooks.budgets.ledger import LEDGER
from aa_notebooks.budgets.model import Budget
from aa_notebooks.budgets.money import from_micros
from aa_notebooks.budgets.scope import EXECUTIONS, budget_key
from aa_notebooks.budgets.window import Window, ceil_hour, floor_hour
from aa_notebooks.db.schema import BudgetScope


def exact_spend(connection: Connection, budget: Budget, window: Window) -> Decimal:
    """The budget's spend in the window, summed from the executions."""
    statement = _exact_statement(budget.scope, _agent_id(budget) is not None)
    return Decimal(connection.execute(statement, _params(budget, window)).scalar_one())


def ledger_spend(connection: Connection, budget: Budget, window: Window) -> Decimal:
    """The budget's spend in the window, from the ledger and the partial hours' executions."""
    statement = _ledger_statement(budget.scope, _agent_id(budget) is not None)
    micros, partial = connection.execute(statement, _params(budget, window)).one()
    return from_micros(int(micros)) + Decimal(partial)


def both_spends(connection: Connection, budget: Budget, window: Window) -> tuple[Decimal, Decimal]:
    """The spend summed from the executions and the spend from the ledger, read in one statement
    (one snapshot), so a difference means the ledger is wrong, not that a write came between."""
    statement = _both_statement(budget.scope, _agent_id(budget) is not None)
    exact, micros, partial = connection.execute(statement, _params(budget, window)).one()
    return Decimal(exact), from_micros(int(micros)) + Decimal(partial)


def _params(budget: Budget, window: Window) -> dict[str, Any]:
    """Values for every parameter of the statements below."""
    scope, key = budget_key(budget)
    return {
        **counted_params(budget),
        "start": window.start,
        "end": window.end,
        "first_hour": ceil_hour(window.start),
        "last_hour": floor_hour(window.end),
        "ledger_scope": scope,
        "ledger_key": key,
    }


@cache
def _exact_statement(scope: BudgetScope, by_agent_id: bool) -> Select[Any]:
    started, cost = EXECUTIONS.c.started_at, EXECUTIONS.c.cost_usd
    inside = and_(
        counted(scope, by_agent_id), started.between(bindparam("start"), bindparam("end"))
    )
    return select(func.coalesce(func.sum(cost), 0)).where(inside)


@cache
def _ledger_statement(scope: BudgetScope, by_agent_id: bool) -> Select[Any]:
    whole_hours = select(func.coalesce(func.sum(LEDGER.c.spend_micro_usd), 0)).where(
        LEDGER.c.scope == bindparam("ledger_scope"),
        LEDGER.c.scope_key == bindparam("ledger_key"),
        LEDGER.c.hour >= bindparam("first_hour"),
        LEDGER.c.hour < bindparam("last_hour"),
    )
    started, cost = EXECUTIONS.c.started_at, EXECUTIONS.c.cost_usd
    edges = or_(
        and_(started >= bindparam("start"), started < bindparam("first_hour")),
        started.between(bindparam("last_hour"), bindparam("end")),
    )
    partial_hours = select(func.coalesce(func.sum(cost), 0)).where(
        counted(scope, by_agent_id), edges
    )
    return select(whole_hours.scalar_subquery(), partial_hours.scalar_subquery())


@cache
def _both_statement(scope: BudgetScope, by_agent_id: bool) -> Select[Any]:
    ledger = _ledger_statement(scope, by_agent_id).subquery()
    return select(_exact_statement(scope, by_agent_id).scalar_subquery(), *ledger.c)


def counted(scope: BudgetScope, by_agent_id: bool) -> ColumnElement[bool]:
    """SQL condition on agentexecutions: the rows a budget of this scope counts (see `scope`).

    Its values are bound by name: pass `counted_params(budget)`; `by_agent_id` is whether the
    budget's agent_id parameter is not None."""
    columns = EXECUTIONS.c
    if scope is BudgetScope.user:
        return columns.user_id == bindparam("user_id")
    if scope is BudgetScope.agent:
        by_name = columns.agent_name == bindparam("target")
        return or_(by_name, columns.agent_id == bindparam("agent_id")) if by_agent_id else by_name
    if scope is BudgetScope.flow:
        return columns.flow_id == bindparam("target")
    return true()


def counted_params(budget: Budget) -> dict[str, Any]:
    """Values for the bound parameters of `counted` (user_id, target, agent_id)."""
    return {"user_id": budget.user_id, "target": budget.target, "agent_id": _agent_id(budget)}


def _agent_id(budget: Budget) -> uuid.UUID | None:
    """The agent id an agent budget's target names, when it is a UUID."""
    if budget.scope is not BudgetScope.agent or not budget.target:
        return None
    try:
        return uuid.UUID(budget.target)
    except ValueError:
        return None
