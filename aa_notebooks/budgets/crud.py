"""List, create, update and delete budgets (the contract's /api/analytics/budgets endpoints)."""

from __future__ import annotations

import difflib
import uuid
import warnings
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, Connection, Engine, and_, delete, select, true, update
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from aa_notebooks.budgets.capabilities import Capabilities, capabilities
from aa_notebooks.budgets.definitions import budgets_changed
from aa_notebooks.budgets.fields import (
    CREATE_FIELDS,
    UPDATE_FIELDS,
    check_known,
    parse_uuid,
    validated,
)
from aa_notebooks.budgets.model import Budget, budgets_frame
from aa_notebooks.budgets.reading import current_spends
from aa_notebooks.budgets.scope import BUDGETS, EXECUTIONS
from aa_notebooks.budgets.spend import counted, counted_params, target_agent_id
from aa_notebooks.budgets.store import ACTIVE, budget_values, load_budgets
from aa_notebooks.budgets.transactions import read_transaction, write_transaction
from aa_notebooks.budgets.window import utc
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import BudgetScope
from aa_notebooks.db.stored_uuid import as_referenced
from aa_notebooks.db.users import add_missing_users
from aa_notebooks.errors import InvalidInputError, NotFoundError

SPEND_READ_LOCK_TIMEOUT_S = 5
"""How long the spend shown after a create or update may wait for a table another session
locks (a migration, VACUUM FULL) before the budget is shown with its stored copy."""


def list_budgets(
    url: str | URL | None = None,
    *,
    user_id: uuid.UUID | str | None = None,
    active_only: bool = False,
    now: datetime | None = None,
) -> pd.DataFrame:
    """The budgets, one row each, current_spend_usd their spend at `now` (None: the clock);
    with `user_id`, only the budgets that user owns."""
    engine = get_engine(url)
    caps = capabilities(engine)
    caps.require_budgets()
    condition: ColumnElement[bool] = ACTIVE if active_only else true()
    if user_id is not None:
        condition = and_(condition, BUDGETS.c.user_id == parse_uuid(user_id, "user_id"))
    with read_transaction(engine) as connection:
        budgets = load_budgets(connection, caps, condition)
        spends = current_spends(connection, caps, budgets, utc(now))
    return budgets_frame(
        [replace(b, current_spend_usd=spends.get(b.id, b.current_spend_usd)) for b in budgets]
    )


def get_budget(url: str | URL | None, budget_id: uuid.UUID | str) -> Budget:
    """The budget with this id, as stored; NotFoundError when there is none."""
    engine = get_engine(url)
    caps = capabilities(engine)
    caps.require_budgets()
    key = parse_uuid(budget_id, "budget id")
    with engine.connect() as connection:
        found = load_budgets(connection, caps, BUDGETS.c.id == key)
    if not found:
        raise NotFoundError(f"no budget with id {key}")
    return found[0]


def create_budget(url: str | URL | None = None, **fields: Any) -> Budget:
    """Store a new budget; the data contract's curl body is accepted as it is (scope global).
    Returned with its spend now, as `list_budgets` shows it."""
    budget = validated(fields, Decimal("0.00"))  # as stored: NUMERIC(10,2)
    engine = get_engine(url)
    caps = capabilities(engine)
    caps.require_budgets()
    caps.require(budget)
    try:
        with write_transaction(engine) as connection:
            values = budget_values(budget, caps)
            if budget.user_id is not None:
                add_missing_users(connection, [budget.user_id])
            connection.execute(
                BUDGETS.insert().values(**as_referenced(connection, BUDGETS, values))
            )
    except IntegrityError:
        raise _explain_conflict(budget) from None
    budgets_changed(engine)
    _warn_if_nothing_counts(engine, budget)
    return _as_listed(engine, caps, budget)


def _warn_if_nothing_counts(engine: Engine, budget: Budget) -> None:
    """Warn when an agent or flow budget's target has never run: a typo (`"planner "`) would
    otherwise make a hard stop that refuses nothing, silently. A budget for an agent about to
    be deployed is fine, hence a warning."""
    if budget.scope is BudgetScope.user and budget.user_id is not None:
        _warn_if_user_never_ran(engine, budget.user_id)
        return
    if budget.scope not in (BudgetScope.agent, BudgetScope.flow):
        return
    by_agent_id = target_agent_id(budget.scope, budget.target) is not None
    with engine.connect() as connection:
        condition = counted(budget.scope, by_agent_id)
        found = connection.execute(
            select(EXECUTIONS.c.id).where(condition).limit(1), counted_params(budget)
        ).first()
        if found is not None:
            return
        agent = budget.scope is BudgetScope.agent
        column = EXECUTIONS.c.agent_name if agent else EXECUTIONS.c.flow_id
        names = connection.execute(select(column).distinct().limit(1000)).scalars().all()
    close = difflib.get_close_matches(str(budget.target), [n for n in names if n], n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    warnings.warn(
        f"no executions of {budget.scope.value} {budget.target!r} yet: the budget counts none "
        f"until one runs under that {'name' if agent else 'flow'}"
        f"{hint}",
        UserWarning,
        stacklevel=3,
    )


def _warn_if_user_never_ran(engine: Engine, user_id: uuid.UUID) -> None:
    """Warn when a user budget's user has no execution: a mistyped id makes a budget that
    counts nothing (PostgreSQL's foreign key refuses an unknown user on an AgentOS database;
    the kit's own adds it, as the writer does for a run's new user)."""
    with engine.connect() as connection:
        query = select(EXECUTIONS.c.id).where(EXECUTIONS.c.user_id == user_id).limit(1)
        if connection.execute(query).first() is not None:
            return
    warnings.warn(
        f"no executions of user {user_id} yet: the budget counts none until that user's runs "
        "are recorded; check the id",
        UserWarning,
        stacklevel=4,
    )


def update_budget(url: str | URL | None, budget_id: uuid.UUID | str, **changes: Any) -> Budget:
    """Change some fields of a budget; the result is validated as a whole, like a new one, and
    returned with its spend now."""
    key = parse_uuid(budget_id, "budget id")
    check_known(changes, UPDATE_FIELDS, "fields an update accepts")
    engine = get_engine(url)
    caps = capabilities(engine)
    caps.require_budgets()
    try:
        with write_transaction(engine) as connection:
            current = _get(connection, caps, key)
            merged = {name: getattr(current, name) for name in CREATE_FIELDS} | changes
            budget = validated(merged, current.current_spend_usd)
            caps.require(budget)
            values = budget_values(budget, caps)
            if budget.user_id is not None:
                add_missing_users(connection, [budget.user_id])
            del values["id"]
            values = as_referenced(connection, BUDGETS, values)
            connection.execute(update(BUDGETS).where(BUDGETS.c.id == key).values(**values))
    except IntegrityError:
        raise _explain_conflict(budget) from None
    budgets_changed(engine)
    return _as_listed(engine, caps, budget)


def _as_listed(engine: Engine, caps: Capabilities, budget: Budget) -> Budget:
    """The budget with its spend now, as lists show it: the stored copy waits for `evaluate`,
    so a new budget would show $0.00 whatever its window already holds. The budget is stored
    by then, so a failed read (a table another session locks) only warns: reporting failure
    would have the caller store it again."""
    try:
        with read_transaction(engine) as connection:
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(
                    f"SET LOCAL lock_timeout = '{SPEND_READ_LOCK_TIMEOUT_S}s'"
                )
            spends = current_spends(connection, caps, [budget], utc(None))
    except SQLAlchemyError as error:
        warnings.warn(
            f"budget {budget.id} is stored, but its spend could not be read now "
            f"({type(getattr(error, 'orig', None) or error).__name__}); `budgets list` shows it",
            UserWarning,
            stacklevel=3,
        )
        return budget
    return replace(budget, current_spend_usd=spends.get(budget.id, budget.current_spend_usd))


def delete_budget(url: str | URL | None, budget_id: uuid.UUID | str) -> None:
    """Delete a budget and its alert history."""
    key = parse_uuid(budget_id, "budget id")
    engine = get_engine(url)
    capabilities(engine).require_budgets()
    with write_transaction(engine) as connection:
        if connection.execute(delete(BUDGETS).where(BUDGETS.c.id == key)).rowcount == 0:
            raise NotFoundError(f"no budget with id {key}")
    budgets_changed(engine)


def _get(connection: Connection, caps: Capabilities, key: uuid.UUID) -> Budget:
    found = load_budgets(connection, caps, BUDGETS.c.id == key, lock=True)
    if not found:
        raise NotFoundError(f"no budget with id {key}")
    return found[0]


def _explain_conflict(budget: Budget) -> InvalidInputError:
    """An IntegrityError in plain words: a taken id, or an owner missing from users."""
    return InvalidInputError(
        f"cannot store budget {budget.id}: its id is already taken, or its user_id "
        f"{budget.user_id} is not in the users table of this database"
    )
