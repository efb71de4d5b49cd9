"""Which users a per-user budget applies to when it is read or evaluated as a whole.

A per-user budget is a template (`Budget.template`): it counts each user's spend separately.
Status and evaluation show it once per user who ran executions in its window (`applied_in`),
or, for one user's view, once for that user; with no such user, it shows as itself, with
nothing spent. The recording and the hard stop apply it to the users of the executions at hand
instead (`scope.applied`).
"""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, select

from aa_notebooks.budgets.fields import parse_uuid
from aa_notebooks.budgets.model import Budget
from aa_notebooks.budgets.scope import EXECUTIONS
from aa_notebooks.budgets.window import SpendWindow


def applied_in(
    connection: Connection, budget: Budget, window: SpendWindow, viewer: uuid.UUID | None
) -> list[Budget]:
    """The budget as it applies in `window`: a per-user template once per user who ran
    executions there (only `viewer`, when given), or the template itself when none did; any
    other budget as it is."""
    if not budget.template:
        return [budget]
    users = [viewer] if viewer is not None else spenders(connection, window)
    return [budget.for_user(user) for user in users] or [budget]


def spenders(connection: Connection, window: SpendWindow) -> list[uuid.UUID]:
    """The users who ran executions that started in the window, in id order."""
    started, user_id = EXECUTIONS.c.started_at, EXECUTIONS.c.user_id
    query = (
        select(user_id)
        .where(started.between(window.start, window.end), user_id.is_not(None))
        .group_by(user_id)
        .order_by(user_id)
    )
    return [parse_uuid(value, "user_id") for value in connection.execute(query).scalars()]
