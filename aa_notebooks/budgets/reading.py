"""`budget_status`: every active budget's state, read only; `current_spends` for the lists.

The statuses come from one read-only snapshot (summed exactly from the executions, their whole
hours and days read from the rollups where the database has them), so they work
on a database the kit may only read, and nothing is written back, recorded, rebuilt or emailed:
dashboards, reports and `budgets status` never change what they show. Writing the spend back and
sending the alerts due is `evaluation.evaluate_budgets` (`budgets evaluate`).

It also counts the alert emails due (events recorded but not sent, and levels held with no event
in the window, which the next evaluation records) and, when email settings are incomplete, says
so in `email_warning`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, func, select
from sqlalchemy.engine import URL

from aa_notebooks.budgets.alert_claims import owed
from aa_notebooks.budgets.alert_settings import email_problem, unsent_warning
from aa_notebooks.budgets.alerts import EVENTS, alerts_due, events_of_user
from aa_notebooks.budgets.capabilities import Capabilities, capabilities
from aa_notebooks.budgets.fields import parse_uuid
from aa_notebooks.budgets.model import Budget
from aa_notebooks.budgets.money import cents
from aa_notebooks.budgets.per_user import applied_in
from aa_notebooks.budgets.scope import BUDGETS
from aa_notebooks.budgets.spend import SpendPlans, rollup_spend
from aa_notebooks.budgets.status import BudgetStatus, BudgetStatusList, assess, unavailable
from aa_notebooks.budgets.store import active_budgets, load_budgets
from aa_notebooks.budgets.transactions import read_transaction
from aa_notebooks.budgets.window import SpendWindow, utc
from aa_notebooks.db.engine import get_engine


def budget_status(
    url: str | URL | None = None,
    *,
    user_id: uuid.UUID | str | None = None,
    now: datetime | None = None,
) -> BudgetStatusList:
    """The status of each active budget (those `user_id` owns, when given) at `now`, read only,
    with a warning when alerts are due that the email settings cannot send. A per-user budget
    has a status per user who ran executions in its window (only `user_id`'s, when given)."""
    engine = get_engine(url)
    caps = capabilities(engine)
    caps.require_budgets()
    now = utc(now)
    owner = None if user_id is None else parse_uuid(user_id, "user_id")
    statuses: list[BudgetStatus] = []
    due = 0
    with read_transaction(engine) as connection:
        plans = SpendPlans(connection)
        for budget in load_budgets(connection, caps, active_budgets(caps, owner)):
            if reason := caps.unavailable(budget):
                statuses.append(unavailable(budget, now, reason))
                continue
            window = SpendWindow.ending(now, budget.period_days)
            for each, spend in _spends(connection, budget, window, owner, plans):
                statuses.append(assess(each, spend, now))
                if caps.has_events and each.email_notification:
                    due += alerts_due(connection, each, window, spend)
        if caps.has_events:
            due += _unsent_events(connection, owner)
    warning = unsent_warning(due, email_problem()) if due else None
    return BudgetStatusList(tuple(statuses), warning)


def _unsent_events(connection: Connection, owner: uuid.UUID | None) -> int:
    """How many recorded alert events wait to be emailed, as delivery sends them (`owed`), of
    `owner`'s budgets when given."""
    query = (
        select(func.count())
        .select_from(EVENTS.join(BUDGETS, BUDGETS.c.id == EVENTS.c.budget_id))
        .where(owed("email"))
    )
    if owner is not None:
        query = query.where(events_of_user(owner))
    return int(connection.execute(query).scalar_one())


def current_spends(
    connection: Connection, caps: Capabilities, budgets: list[Budget], now: datetime
) -> dict[uuid.UUID, Decimal]:
    """Each budget's spend in its window at `now`, in cents, as `budgets evaluate` writes it to
    current_spend_usd (a per-user budget: its highest user's); none for a budget this database
    cannot evaluate. Lists show it: the stored copy is only as fresh as the last evaluation."""
    plans = SpendPlans(connection)
    spends = {}
    for budget in budgets:
        if caps.unavailable(budget):
            continue
        window = SpendWindow.ending(now, budget.period_days)
        spends[budget.id] = cents(
            max(s for _, s in _spends(connection, budget, window, None, plans))
        )
    return spends


def _spends(
    connection: Connection,
    budget: Budget,
    window: SpendWindow,
    owner: uuid.UUID | None,
    plans: SpendPlans,
) -> list[tuple[Budget, Decimal]]:
    """The budget as it applies in `window` (`applied_in`: per user, for a per-user one), each
    with its spend there; a per-user budget no user spent on, with 0."""
    return [
        (
            each,
            Decimal(0) if each.template else rollup_spend(connection, each, window, plans(window)),
        )
        for each in applied_in(connection, budget, window, owner, plans)
    ]
