"""The document's budget endpoints: list and create, update and delete budget alerts.

The body of POST is the document's curl body (`threshold_usd`, `period_days`, `alert_type`,
`alert_at_percentage`, `email_notification`), plus `scope`, `target`, `name`, `is_active` and
`user_id`; fields left out take the budgets module's defaults, which also validates them. With
user scoping, a caller sees and changes only the budgets it owns, and owns what it creates.
"""

import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.engine import URL

from aa_notebooks.api.encoding import jsonable, records
from aa_notebooks.budgets import create_budget, delete_budget, list_budgets, update_budget
from aa_notebooks.errors import NotFoundError

CENT = Decimal("0.01")
CENTS_COLUMNS = ("threshold_usd", "current_spend_usd")  # NUMERIC(10,2) in the document


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


class NewBudget(BudgetChanges):
    """A budget to create: a threshold and an alert type at least (the document's body)."""

    threshold_usd: Decimal
    alert_type: Literal["warning", "hard_stop"]


def add_budget_routes(router: APIRouter, url: str | URL | None, user: Any) -> None:
    """Add the budget endpoints; `user` is the Depends() giving the caller's user id (or None)."""
    User = Annotated[uuid.UUID | str | None, user]

    @router.get("/budgets", summary="List budget alerts")
    def budgets(owner: User) -> JSONResponse:
        frame = list_budgets(url, user_id=owner)
        for column in CENTS_COLUMNS:
            frame[column] = [Decimal(repr(v)).quantize(CENT) for v in frame[column]]
        return JSONResponse({"items": records(frame)})

    @router.post("/budgets", summary="Create a budget alert", status_code=201)
    def create(body: NewBudget, owner: User) -> JSONResponse:
        fields = _owned(body.model_dump(exclude_unset=True), owner)
        return JSONResponse(jsonable(create_budget(url, **fields)), status_code=201)

    @router.patch("/budgets/{id}", summary="Update a budget alert")
    def update(id: uuid.UUID, body: BudgetChanges, owner: User) -> JSONResponse:
        _check_owner(id, owner)
        changes = _owned(body.model_dump(exclude_unset=True), owner)
        return JSONResponse(jsonable(update_budget(url, id, **changes)))

    @router.delete("/budgets/{id}", summary="Delete a budget alert", status_code=204)
    def delete(id: uuid.UUID, owner: User) -> Response:
        _check_owner(id, owner)
        delete_budget(url, id)
        return Response(status_code=204)

    def _check_owner(budget_id: uuid.UUID, owner: uuid.UUID | str | None) -> None:
        """A scoped caller may only touch its own budgets; others look absent to it."""
        if owner is None:
            return
        if budget_id not in {uuid.UUID(str(b)) for b in list_budgets(url, user_id=owner)["id"]}:
            raise NotFoundError(f"no budget with id {budget_id} among yours")


def _owned(fields: dict[str, Any], owner: uuid.UUID | str | None) -> dict[str, Any]:
    """The fields with the caller as owner; giving the budget to someone else is refused."""
    if owner is None:
        return fields
    given = fields.get("user_id")
    if given is not None and str(given) != str(owner):
        raise HTTPException(403, "a budget can only belong to the user who makes it")
    return {**fields, "user_id": owner}
