"""Which executions a budget counts, and the ledger keys that carry their spend.

- user: executions whose user_id is the budget's user_id;
- agent: executions whose agent_name equals the target, or whose agent_id is the target (a UUID);
- flow: executions whose flow_id equals the target;
- global: every execution.

A budget's user_id is its owner (AgentOS lists budgets per user); it narrows the spend only for
user scope, so a global budget is organisation-wide whoever created it. Each execution adds its
cost to one ledger key per scope it belongs to: ("global", ""), ("user", its user id),
("agent", its name), ("agent", its id) and ("flow", its flow); a budget reads its one key.

A per-user budget (`per_user`, scope user, no user_id) is a template: it applies to every user
separately, as the user budget of that user (`Budget.for_user`), reading that user's key.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    String,
    and_,
    bindparam,
    or_,
    type_coerce,
)

from aa_notebooks.budgets.model import Budget
from aa_notebooks.db.schema import AgentExecution, BudgetAlert, BudgetScope, table_of
from aa_notebooks.db.spend_ledger import LedgerKey
from aa_notebooks.db.stored_uuid import EitherForm, other_forms

EXECUTIONS = table_of(AgentExecution)
BUDGETS = table_of(BudgetAlert)


def budget_key(budget: Budget) -> LedgerKey:
    """The ledger key whose spend is this budget's spend."""
    if budget.scope is BudgetScope.user:
        return (budget.scope.value, str(budget.user_id))
    if budget.scope is BudgetScope.global_:
        return (budget.scope.value, "")
    return (budget.scope.value, budget.target or "")


def applied(budgets: Iterable[Budget], keys: Iterable[LedgerKey]) -> list[Budget]:
    """The budgets as they apply to executions of these keys: a per-user template once for each
    user among the keys (none when there is none), every other budget as it is."""
    users = sorted({uuid.UUID(key) for scope, key in keys if scope == BudgetScope.user.value})
    found: list[Budget] = []
    for budget in budgets:
        found += [budget.for_user(user) for user in users] if budget.template else [budget]
    return found


@cache
def budgets_for_keys(has_targets: bool, has_per_user: bool) -> ColumnElement[bool]:
    """SQL condition on budgetalerts: every global and per-user budget, and the user, agent and
    flow budgets whose key is bound in `users`, `agents`, `flows` (see `key_params`)."""
    columns = BUDGETS.c
    conditions = [
        columns.scope == BudgetScope.global_,
        and_(
            columns.scope == BudgetScope.user,
            EitherForm(  # on SQLite, a user_id another program stored in another form too
                columns.user_id.in_(bindparam("users", expanding=True)),
                type_coerce(columns.user_id, String()).in_(bindparam("user_texts", expanding=True)),
            ),
        ),
    ]
    if has_per_user:
        conditions.append(and_(columns.scope == BudgetScope.user, columns.per_user.is_(True)))
    if has_targets:
        for scope, name in ((BudgetScope.agent, "agents"), (BudgetScope.flow, "flows")):
            targets: BindParameter[str] = bindparam(name, expanding=True)
            conditions.append(and_(columns.scope == scope, columns.target.in_(targets)))
    return or_(*conditions)


def key_params(keys: Iterable[LedgerKey]) -> dict[str, list[Any]]:
    """The parameters of `budgets_for_keys` for these ledger keys."""
    found: dict[str, list[Any]] = {"users": [], "user_texts": [], "agents": [], "flows": []}
    for scope, key in sorted(keys):
        if scope == BudgetScope.user.value:
            found["users"].append(uuid.UUID(key))
            found["user_texts"] += other_forms([uuid.UUID(key)])
        elif scope in (BudgetScope.agent.value, BudgetScope.flow.value):
            found[f"{scope}s"].append(key)
    return found
