"""Which users a per-user budget applies to when it is read or evaluated as a whole.

A per-user budget is a template (`Budget.template`): it counts each user's spend separately.
Status and evaluation show it once per user who ran executions in its window (`applied_in`),
or, for one user's view, once for that user; with no such user, it shows as itself, with
nothing spent. The recording and the hard stop apply it to the users of the executions at hand
instead (`scope.applied`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from aa_notebooks.analytics.rollup_plan import ReadPlan, Span
from aa_notebooks.analytics.rollup_source import in_spans
from aa_notebooks.budgets.fields import parse_uuid
from aa_notebooks.budgets.model import Budget
from aa_notebooks.budgets.scope import EXECUTIONS
from aa_notebooks.budgets.spend import SpendPlans
from aa_notebooks.budgets.window import SpendWindow
from aa_notebooks.db.rollups.record import LATENCY_DAY, LATENCY_HOUR


def applied_in(
    connection: Connection,
    budget: Budget,
    window: SpendWindow,
    viewer: uuid.UUID | None,
    plans: SpendPlans,
) -> list[Budget]:
    """The budget as it applies in `window`: a per-user template once per user who ran
    executions there (only `viewer`, when given), or the template itself when none did; any
    other budget as it is."""
    if not budget.template:
        return [budget]
    users = [viewer] if viewer is not None else spenders(connection, window, plans(window))
    return [budget.for_user(user) for user in users] or [budget]


def spenders(connection: Connection, window: SpendWindow, plan: ReadPlan | None) -> list[uuid.UUID]:
    """The users who ran executions that started in the window, in id order. The whole hours
    and days come from the latency rollups by `plan` (the window's `spend_plan`; a month of a
    busy database is millions of executions to group), the rest from the executions; all from
    the executions where `plan` is None."""
    if plan is None:
        whole = (window.start, window.end + timedelta.resolution)  # the window's end included
        return sorted(_raw_spenders(connection, [whole]))
    found = _raw_spenders(connection, plan.raw)
    for table, spans in ((LATENCY_HOUR, plan.hours), (LATENCY_DAY, plan.days)):
        if spans:
            query = (
                select(table.c.user_id)
                .where(in_spans(table.c.bucket, spans), table.c.user_id.is_not(None))
                .group_by(table.c.user_id)
                .having(func.sum(table.c.executions) > 0)  # a replaced run's row may be 0
            )
            found.update(_users(connection.execute(query).scalars()))
    return sorted(found)


def _raw_spenders(connection: Connection, spans: list[Span]) -> set[uuid.UUID]:
    """The users of the executions that started in `spans`."""
    if not spans:
        return set()
    started, user_id = EXECUTIONS.c.started_at, EXECUTIONS.c.user_id
    query = select(user_id).where(in_spans(started, spans), user_id.is_not(None)).group_by(user_id)
    return _users(connection.execute(query).scalars())


def _users(values: Iterable[Any]) -> set[uuid.UUID]:
    return {parse_uuid(value, "user_id") for value in values}
