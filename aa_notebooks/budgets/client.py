"""Budgets for one database and scope, as one object: definitions (list, create, update, delete),
their read-only status and history, and the explicit evaluation that writes spend back and emails.

The analytics layer only reads executions, so budgets have their own client; it takes its
database, user scope and clock from an `Analytics` (`BudgetClient.of(analytics)`) or from the same
arguments as `connect` (`connect_budgets`). Imported on its own, like `history`: it loads the
analytics layer, which agent processes need not.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import URL

from aa_notebooks.analytics.periods import Window, resolve_window
from aa_notebooks.analytics.results import Table
from aa_notebooks.analytics.source import scope_label
from aa_notebooks.budgets.alert_settings import AlertMailer
from aa_notebooks.budgets.backtest import BudgetBacktest, backtest_budget
from aa_notebooks.budgets.crud import create_budget, delete_budget, list_budgets, update_budget
from aa_notebooks.budgets.evaluation import Evaluation, evaluate_budgets
from aa_notebooks.budgets.fields import parse_uuid
from aa_notebooks.budgets.history import budget_alert_events, budget_spend_daily
from aa_notebooks.budgets.model import Budget
from aa_notebooks.budgets.reading import budget_status
from aa_notebooks.budgets.status import BudgetStatusList
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.url import mask_url, require_database
from aa_notebooks.errors import InvalidInputError
from aa_notebooks.validation import clock_reading, utc_now

if TYPE_CHECKING:
    from aa_notebooks.analytics import Analytics


class BudgetClient:
    """The budgets of one database, all of them or one user's (`user_id`).

    A scoped client lists and evaluates only that user's budgets and creates budgets for that
    user unless told otherwise.
    """

    def __init__(
        self,
        url: URL,
        user_id: uuid.UUID | None = None,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.url = url
        self.user_id = user_id
        self._now = now

    @classmethod
    def of(cls, analytics: Analytics) -> BudgetClient:
        """The budgets of the database, scope and clock an `Analytics` reads."""
        return cls(analytics.url, analytics.user_id, analytics.now)

    def __repr__(self) -> str:
        return f"BudgetClient({mask_url(self.url)}, {self.scope})"

    def now(self) -> datetime:
        """The current time from the injected clock, aware UTC."""
        return clock_reading(self._now)

    @property
    def scope(self) -> str:
        """Whose budgets: "all users" or "user <id>"."""
        return scope_label(self.user_id)

    def list(self, *, active_only: bool = False) -> Table:
        """The budget alerts (this user's when scoped), one row each, with their spend now."""
        frame = list_budgets(
            self.url, user_id=self.user_id, active_only=active_only, now=self.now()
        )
        return Table("Active budgets" if active_only else "Budgets", None, self.scope, frame)

    def create(self, **fields: Any) -> Budget:
        """Create a budget; the data contract's POST body is accepted as it is."""
        if self.user_id is not None:
            if fields.get("per_user"):
                raise InvalidInputError(
                    "a per-user budget applies to every user: create it from a session that is "
                    "not scoped to one user"
                )
            fields.setdefault("user_id", self.user_id)
        return create_budget(self.url, **fields)

    def update(self, budget_id: uuid.UUID | str, **changes: Any) -> Budget:
        """Change some fields of a budget (re-validated as a whole)."""
        return update_budget(self.url, budget_id, **changes)

    def delete(self, budget_id: uuid.UUID | str) -> None:
        """Delete a budget and its alert history."""
        delete_budget(self.url, budget_id)

    def status(self) -> BudgetStatusList:
        """Per active budget: spend in its rolling window, percent used, status, projection.

        Read only: nothing is written back, recorded or emailed (that is `evaluate`);
        `.email_warning` says when alerts are due that the email settings cannot send.
        """
        return budget_status(self.url, user_id=self.user_id, now=self.now())

    def evaluate(self, *, mailer: AlertMailer | None = None) -> Evaluation:
        """Write each active budget's spend back, record the alerts due and email the pending
        ones (`mailer`, else the settings in the environment); returns what was done."""
        return evaluate_budgets(self.url, user_id=self.user_id, now=self.now(), mailer=mailer)

    def backtest(
        self,
        *,
        threshold_usd: Decimal | float | str,
        period_days: int = 30,
        scope: str | None = None,
        target: str | None = None,
        user_id: uuid.UUID | str | None = None,
        alert_type: str = "warning",
        alert_at_percentage: int = 80,
        levels: Sequence[int] | None = None,
        days: int = 90,
        per_user: bool = False,
    ) -> BudgetBacktest:
        """What this budget (fields as `create` takes them) would have done over the last `days`
        days: the alerts it would have fired at each level (percent of the threshold; default
        `alert_at_percentage` and 100), the executions a hard stop would have refused and the
        spend that saves; `per_user`: a budget that applies to every user separately. Nothing
        is written. A scoped client replays only its user's runs."""
        if scope == "user" and user_id is None and not per_user:
            user_id = self.user_id
        return backtest_budget(
            get_engine(self.url),
            self.now(),
            threshold_usd=threshold_usd,
            period_days=period_days,
            scope=scope,
            target=target,
            budget_user_id=user_id,
            alert_type=alert_type,
            alert_at_percentage=alert_at_percentage,
            levels=levels,
            days=days,
            viewer=self.user_id,
            per_user=per_user,
        )

    def spend_daily(self, *, budget_ids: Iterable[uuid.UUID | str] | None = None) -> Table:
        """Per active budget, its spend per UTC day of its rolling window with the running total,
        threshold and alert level (for burn-down charts)."""
        frame = budget_spend_daily(
            self.url, user_id=self.user_id, now=self.now(), budget_ids=budget_ids
        )
        return Table("Budget spend per day", None, self.scope, frame)

    def alert_events(
        self,
        period: str | Window | None = None,
        *,
        start_date: str | date | None = None,
        end_date: str | date | None = None,
    ) -> Table:
        """The alert events (warning, exceeded) that fired in the window, newest first."""
        window = resolve_window(period, start_date, end_date, self.now())
        frame = budget_alert_events(self.url, window, user_id=self.user_id)
        return Table("Budget alert events", window, self.scope, frame)


def connect_budgets(
    url: str | URL | None = None,
    *,
    user_id: uuid.UUID | str | None = None,
    now: Callable[[], datetime] | None = None,
) -> BudgetClient:
    """The budgets of the database at `url` (else $AA_DATABASE_URL, else the default SQLite
    file), scoped to `user_id` when given; `now` as for `aa_notebooks.connect`."""
    owner = None if user_id is None else parse_uuid(user_id, "user_id")
    return BudgetClient(require_database(url), owner, now or utc_now)
