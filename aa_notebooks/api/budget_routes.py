"""The data contract's budget endpoints: list and create, update and delete budget alerts.

The body of POST is the data contract's curl body (`threshold_usd`, `period_days`, `alert_type`,
`alert_at_percentage`, `email_notification`), plus `scope`, `target`, `name`, `is_active`,
`user_id`, `alert_levels` (more warning percentages, e.g. [50, 90]) and `per_user` (true: the
budget applies to every user separately, scope user, no user_id); fields left out take the
budgets module's defaults, which also validates them. Who may see and change which budget is
`budget_access`'s rule: a user sees and manages only the user budgets of its own user, and a body
from a user without scope or user_id makes one of those.
"""

import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.engine import URL

from aa_notebooks.api.budget_access import USER_SCOPE, check_may_change, may_see
from aa_notebooks.api.encoding import jsonable, records
from aa_notebooks.api.principal import Principal
from aa_notebooks.budgets import (
    create_budget,
    delete_budget,
    get_budget,
    list_budgets,
    update_budget,
)
from aa_notebooks.db.schema import BudgetScope
from aa_notebooks.db.url import require_database

CENT = Decimal("0.01")
CENTS_COLUMNS = ("threshold_usd", "current_spend_usd")  # NUMERIC(10,2) in the data contract
DEFAULT_SCOPE = BudgetScope.global_.value  # the budgets module's default, as in the data contract


class BudgetChanges(BaseModel):
    """Budget fields a request may set; validated by the budgets module."""

    model_config = ConfigDict(extra="forbid")

    threshold_usd: Decimal | None = None
    period_days: int | None = None
    alert_type: Literal["warning", "hard_stop"] | None = None
    alert_at_percentage: int | None = None
    email_notification: bool | None = None
    is_active: bool | None = None
    scope: Literal["user", "agent", "flow", "global"] | None = None
    target: str | None = None
    name: str | None = None
    user_id: uuid.UUID | None = None
    alert_levels: list[int] | None = None
    per_user: bool | None = None


class NewBudget(BudgetChanges):
    """A budget to create: a threshold and an alert type at least (the data contract's body)."""

    threshold_usd: Decimal
    alert_type: Literal["warning", "hard_stop"]


def add_budget_routes(
    router: APIRouter,
    url: str | URL | None,
    caller: Any,
    now: Callable[[], datetime] | None = None,
) -> None:
    """Add the budget endpoints; `caller` is the Depends() giving the request's Principal, `now`
    the clock the listed spends are read at (None: the real one)."""
    Caller = Annotated[Principal, caller]

    def database() -> URL:
        """The database's URL; a SQLite file that does not exist is an error, not made."""
        return require_database(url)

    Database = Annotated[URL, Depends(database)]

    @router.get("/budgets", summary="List budget alerts")
    def budgets(database: Database, principal: Caller) -> JSONResponse:
        at = None if now is None else now()
        frame = _visible(list_budgets(database, user_id=principal.user_id, now=at), principal)
        for column in CENTS_COLUMNS:
            frame[column] = [Decimal(repr(v)).quantize(CENT) for v in frame[column]]
        return JSONResponse({"items": records(frame)})

    @router.post("/budgets", summary="Create a budget alert", status_code=201)
    def create(body: NewBudget, database: Database, principal: Caller) -> JSONResponse:
        fields = body.model_dump(exclude_unset=True)
        per_user = bool(fields.get("per_user"))
        if not principal.admin and not per_user:
            fields.setdefault("scope", USER_SCOPE)
            fields.setdefault("user_id", principal.user_id)
        scope = fields.get("scope", USER_SCOPE if per_user else DEFAULT_SCOPE)
        check_may_change(principal, scope, fields.get("user_id"), per_user=per_user)
        return JSONResponse(jsonable(create_budget(database, **fields)), status_code=201)

    @router.patch("/budgets/{id}", summary="Update a budget alert")
    def update(
        id: uuid.UUID, body: BudgetChanges, database: Database, principal: Caller
    ) -> JSONResponse:
        scope, owner, per_user = _scope_and_owner(database, id)
        check_may_change(principal, scope, owner, per_user=per_user)
        changes = body.model_dump(exclude_unset=True)
        check_may_change(
            principal,
            changes.get("scope", scope),
            changes.get("user_id", owner),
            per_user=bool(changes.get("per_user", per_user)),
        )
        return JSONResponse(jsonable(update_budget(database, id, **changes)))

    @router.delete("/budgets/{id}", summary="Delete a budget alert", status_code=204)
    def delete(id: uuid.UUID, database: Database, principal: Caller) -> Response:
        scope, owner, per_user = _scope_and_owner(database, id)
        check_may_change(principal, scope, owner, per_user=per_user)
        delete_budget(database, id)
        return Response(status_code=204)


def _scope_and_owner(database: URL, budget_id: uuid.UUID) -> tuple[str, Any, bool]:
    """The scope, owner and per_user of a budget; NotFoundError when there is none with this
    id."""
    budget = get_budget(database, budget_id)
    owner = None if budget.user_id is None else str(budget.user_id)
    return budget.scope.value, owner, budget.per_user


def _visible(frame: pd.DataFrame, principal: Principal) -> pd.DataFrame:
    """The rows of the budgets the caller may see."""
    pairs = zip(frame["scope"], frame["user_id"], strict=True)
    shown = [may_see(principal, scope, owner) for scope, owner in pairs]
    return frame.loc[shown].reset_index(drop=True)
