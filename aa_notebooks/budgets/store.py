"""Reading and writing budgetalerts rows, with only the columns the database has."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, or_, select

from aa_notebooks.budgets.capabilities import Capabilities
from aa_notebooks.budgets.fields import parse_uuid
from aa_notebooks.budgets.model import BUDGET_FIELDS, Budget, levels_text
from aa_notebooks.budgets.scope import BUDGETS

ACTIVE = BUDGETS.c.is_active.is_not(False)


def active_budgets(caps: Capabilities, user_id: uuid.UUID | str | None) -> ColumnElement[bool]:
    """SQL condition: the active budgets; when `user_id` is given, only those it owns and the
    per-user budgets (which apply to it as to every user)."""
    if user_id is None:
        return ACTIVE
    owned = BUDGETS.c.user_id == parse_uuid(user_id, "user_id")
    if caps.has_per_user:
        return and_(ACTIVE, or_(owned, BUDGETS.c.per_user.is_(True)))
    return and_(ACTIVE, owned)


def load_budgets(
    connection: Connection,
    capabilities: Capabilities,
    condition: ColumnElement[bool],
    params: Mapping[str, Any] | None = None,
    *,
    lock: bool = False,
) -> list[Budget]:
    """The budgets matching `condition` (its bound values in `params`), named ones first by
    name, then by id.

    With `lock`, the rows are locked until commit (PostgreSQL), in id order, and read as they
    are after any writer that held them has committed.
    """
    query = budgets_query(capabilities.budget_columns, condition, lock)
    return [Budget.from_row(row) for row in connection.execute(query, params or {}).mappings()]


@lru_cache(maxsize=64)
def budgets_query(
    present: frozenset[str], condition: ColumnElement[bool], lock: bool
) -> Select[Any]:
    """The SELECT of `load_budgets`, built once per condition for the hot paths (whose
    conditions are built once, with bound parameters)."""
    query = select(*(BUDGETS.c[name] for name in BUDGET_FIELDS if name in present))
    query = query.where(condition)
    if lock:
        return query.order_by(BUDGETS.c.id).with_for_update(key_share=True)
    if "name" in present:
        return query.order_by(BUDGETS.c.name.is_(None), BUDGETS.c.name, BUDGETS.c.id)
    return query.order_by(BUDGETS.c.id)


def budget_values(budget: Budget, capabilities: Capabilities) -> dict[str, Any]:
    """The row to write for a budget, without the columns the database lacks."""
    values = {name: getattr(budget, name) for name in BUDGET_FIELDS}
    values["alert_levels"] = levels_text(budget.alert_levels)
    return {name: value for name, value in values.items() if name in capabilities.budget_columns}
