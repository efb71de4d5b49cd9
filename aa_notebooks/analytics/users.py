"""`active_users`: who has executions in a window, for a user-scope selector.

One index lookup per user (users(id) with EXISTS over the user+time index), not a GROUP BY over
the window's executions: the list costs milliseconds at a million executions.
"""

from __future__ import annotations

from sqlalchemy import exists, select

from aa_notebooks.analytics.filters import EXECUTIONS, in_window
from aa_notebooks.analytics.periods import Window
from aa_notebooks.analytics.source import Source
from aa_notebooks.db.schema import User, table_of

USERS = table_of(User)


def active_users(source: Source, window: Window) -> tuple[str, ...]:
    """The ids of the users with executions in the window (only the client's own when scoped)."""
    has_executions = exists().where(EXECUTIONS.c.user_id == USERS.c.id, in_window(window))
    query = select(USERS.c.id).where(has_executions)
    if source.whole("the user list").user_id is not None:
        query = query.where(USERS.c.id == source.user_id)
    with source.connect() as connection:
        return tuple(sorted(str(user_id) for user_id in connection.execute(query).scalars()))
