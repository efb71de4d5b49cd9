"""Which budgets a caller may see and change.

An admin: every budget. A user: only `user`-scope budgets of its own user, the only ones whose
spend is its own. Global, agent and flow budgets count every user's executions (and a hard stop
among them blocks everyone's agents), so a user may neither see their spend nor make, change or
delete one; nor may it touch another user's budgets, or per-user budgets (which apply to every
user: it sees its own status under them). Refusals are 403 with the reason.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import HTTPException

from aa_notebooks.api.principal import Principal

USER_SCOPE = "user"


def may_see(principal: Principal, scope: str, owner: Any) -> bool:
    """Whether the caller may see this budget and its spend."""
    return principal.admin or (scope == USER_SCOPE and _same_user(owner, principal.user_id))


def check_may_change(
    principal: Principal, scope: str, owner: Any, *, per_user: bool = False
) -> None:
    """Refuse (403) a user making, changing or deleting a budget that is not its own user's."""
    if principal.admin:
        return
    if per_user:
        raise HTTPException(
            403,
            "a per-user budget applies to every user: creating, changing or deleting one needs "
            "an admin token; a user token manages the user budgets of its own user",
        )
    if scope != USER_SCOPE:
        raise HTTPException(
            403,
            f"{scope} budgets count every user's spend (and a hard stop blocks every user's "
            "agents): creating, changing or deleting one needs an admin token; a user token "
            "manages the user budgets of its own user",
        )
    if not _same_user(owner, principal.user_id):
        raise HTTPException(
            403, "this budget belongs to another user: changing it needs an admin token"
        )


def _same_user(owner: Any, user_id: uuid.UUID | None) -> bool:
    if owner is None or user_id is None:
        return False
    try:
        return uuid.UUID(str(owner)) == user_id
    except ValueError:
        return False
