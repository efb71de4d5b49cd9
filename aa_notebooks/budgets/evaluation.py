"""`evaluate_budgets`: the explicit write behind `budgets evaluate` (and a schedule's job).

Per budget, in one transaction holding the budget's lock: the window's spend is summed from the
executions (the exact number), written back to current_spend_usd in cents (a per-user budget:
per user who ran executions in the window, the highest written back), and the alert events
due are recorded (a level held with no event in the window; crossings are caught by
`apply_spend`). The ledger's number is read in the same statement: when it differs, a writer has
bypassed `apply_spend` (or executions were deleted), which is logged and repaired by rebuilding
the ledger. Pending alert emails are then sent (or retried), and the result says what was done:
the alerts fired, the emails sent and to whom (masked), and a warning when alerts are due that
the email settings cannot send. Reading budgets without writing is `reading.budget_status`.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from html import escape

import pandas as pd
from sqlalchemy import Engine, update
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from aa_notebooks.budgets.alert_posting import Posting
from aa_notebooks.budgets.alert_settings import AlertMailer, unsent_warning
from aa_notebooks.budgets.alerts import AlertNotice, record_due_alerts
from aa_notebooks.budgets.capabilities import Capabilities, capabilities
from aa_notebooks.budgets.delivery import Delivery, send_pending
from aa_notebooks.budgets.fields import parse_uuid
from aa_notebooks.budgets.ledger import ledger_ready, rebuild_ledger
from aa_notebooks.budgets.model import Budget
from aa_notebooks.budgets.money import cents
from aa_notebooks.budgets.per_user import applied_in
from aa_notebooks.budgets.scope import BUDGETS
from aa_notebooks.budgets.spend import SpendPlans, both_spends, exact_spend
from aa_notebooks.budgets.status import (
    BudgetStatus,
    BudgetStatusList,
    Status,
    assess,
    unavailable,
    warning_html,
)
from aa_notebooks.budgets.store import active_budgets, load_budgets
from aa_notebooks.budgets.transactions import write_transaction
from aa_notebooks.budgets.window import SpendWindow, utc
from aa_notebooks.db.engine import get_engine
from aa_notebooks.errors import ConfigurationError, first_line

log = logging.getLogger(__name__)
READ_ONLY_STATES = (
    "42501",
    "25006",
)  # PostgreSQL: insufficient_privilege, read_only_sql_transaction
SEVERITY = (Status.exceeded, Status.warning, Status.ok, Status.unavailable)
ALERTS_OFF = (
    "budget alerts are off on this database: it has no budgetalertevents table to record them "
    "in (an attached AgentOS database), so none fires or is emailed; the statuses above stand"
)


@dataclass(frozen=True)
class Evaluation:
    """What `evaluate_budgets` did: the statuses (with spend written back), the alerts it fired,
    and what became of the pending alert emails."""

    statuses: BudgetStatusList
    fired: tuple[AlertNotice, ...]
    delivery: Delivery
    at: datetime
    alerts_off: bool = False
    """The database has no table of fired alerts (an attached AgentOS one): none can fire, which
    the lines say (not a failure: the statuses are all it can give)."""

    @property
    def email_warning(self) -> str | None:
        """The warning line when alerts are due that cannot be emailed, else None."""
        return self.statuses.email_warning

    @property
    def ok(self) -> bool:
        """Whether every alert due was emailed (the command exits 1 otherwise)."""
        return self.problem is None

    @property
    def problem(self) -> str | None:
        """Why not every alert due was emailed, in one line; None when all were."""
        if self.email_warning:
            return self.email_warning
        if failed := len(self.delivery.failed):
            return f"{_alerts(failed)} could not be emailed; the next evaluation retries"
        if refused := self.delivery.refused:
            return (
                f"the mail server refused budget alerts for {refused} (the other recipients "
                "have them, so they are not sent again): check AA_BUDGET_ALERT_EMAILS"
            )
        posting = self.delivery.webhooks
        if posting.problem:
            return f"budget alerts cannot be posted to webhooks: {posting.problem}"
        if failed := len(posting.failed) + len(posting.dropped):
            return f"{_alerts(failed)} could not be posted to every webhook"
        return None

    def to_frame(self) -> pd.DataFrame:
        """The statuses, one row per budget."""
        return self.statuses.to_frame()

    def lines(self) -> list[str]:
        """What was done, one fact a line (the warning last)."""
        tally = Counter(status.status for status in self.statuses)
        counts = ", ".join(f"{tally[s]} {s.value}" for s in SEVERITY if tally[s]) or "none active"
        budgets, rows = len({status.budget.id for status in self.statuses}), len(self.statuses)
        per_user = (
            f" ({rows} statuses: a per-user budget has one per user)" if rows != budgets else ""
        )
        lines = [
            f"evaluated {budgets} budget{'' if budgets == 1 else 's'}{per_user}: "
            f"{counts}; spend written back",
            f"fired {_alerts(len(self.fired)) if self.fired else 'no alert'}"
            + (":" if self.fired else ""),
            *(f"  {notice}" for notice in self.fired),
        ]
        delivery = self.delivery
        if delivery.sent:
            recipients = ", ".join(delivery.recipients)
            lines.append(f"emailed {_alerts(len(delivery.sent))} to {recipients}:")
            lines += [f"  {notice}" for notice in delivery.sent]
        elif not delivery.unsent and not delivery.failed:
            lines.append("no alert email to send")
        if delivery.failed:
            lines.append(f"not emailed, retried at the next evaluation ({len(delivery.failed)}):")
            lines += [f"  {notice}" for notice in delivery.failed]
        if delivery.refused:
            lines.append(f"refused by the mail server for {delivery.refused}")
        lines += _posting_lines(delivery.webhooks)
        if self.alerts_off:
            lines.append(ALERTS_OFF)
        if self.email_warning:
            lines.append(self.email_warning)
        return lines

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def _repr_html_(self) -> str:
        facts = [line for line in self.lines() if line != self.email_warning]
        body = "<br>".join(escape(line).replace("  ", "&nbsp;&nbsp;") for line in facts)
        return warning_html(self.email_warning) + f"<p>{body}</p>"


def evaluate_budgets(
    url: str | URL | None = None,
    *,
    user_id: uuid.UUID | str | None = None,
    now: datetime | None = None,
    mailer: AlertMailer | None = None,
) -> Evaluation:
    """Evaluate each active budget (those `user_id` owns, when given) at `now`: write its spend
    back, record the alerts due, and email the pending ones (`mailer` None: the settings in the
    environment)."""
    engine = get_engine(url)
    caps = capabilities(engine)
    caps.require_budgets()
    owner = None if user_id is None else parse_uuid(user_id, "user_id")
    try:
        return _evaluate_all(engine, caps, owner, utc(now), mailer)
    except DBAPIError as exc:
        if not _refused_write(exc):
            raise
        raise ConfigurationError(
            "budgets evaluate writes to the database, which refuses it here "
            f"({first_line(exc.orig)}): give it a database URL whose role may write, or only "
            "read with `budgets status`"
        ) from None


def _evaluate_all(
    engine: Engine,
    caps: Capabilities,
    owner: uuid.UUID | None,
    now: datetime,
    mailer: AlertMailer | None,
) -> Evaluation:
    """`evaluate_budgets` once its arguments are checked."""
    with engine.connect() as connection:
        budgets = load_budgets(connection, caps, active_budgets(caps, owner))
    with_ledger = ledger_ready(engine)
    statuses: list[BudgetStatus] = []
    fired: list[AlertNotice] = []
    drifted = []
    for budget in budgets:
        if reason := caps.unavailable(budget):
            statuses.append(unavailable(budget, now, reason))
            continue
        evaluated = _evaluate(engine, caps, budget, now, with_ledger, owner)
        if evaluated is None:  # deleted meanwhile
            continue
        evaluated_statuses, notices, ledger_agrees = evaluated
        statuses += evaluated_statuses
        fired += notices
        if not ledger_agrees:
            drifted.append(budget.label)
    if drifted:
        log.warning(
            "the spend ledger disagreed with the executions for %s (executions written without "
            "apply_spend, or deleted): rebuilding it",
            ", ".join(drifted),
        )
        rebuild_ledger(engine)
    delivery = send_pending(engine, mailer, owner=owner)
    warning = unsent_warning(len(delivery.unsent), delivery.problem)
    statuses_read = BudgetStatusList(tuple(statuses), warning)
    return Evaluation(statuses_read, tuple(fired), delivery, now, not caps.has_events)


def _evaluate(
    engine: Engine,
    caps: Capabilities,
    budget: Budget,
    now: datetime,
    with_ledger: bool,
    owner: uuid.UUID | None,
) -> tuple[list[BudgetStatus], list[AlertNotice], bool] | None:
    """Evaluate one budget under its lock (a per-user budget: for each of its users, or only
    `owner`): its statuses, the alerts recorded, and whether the ledger agreed with the
    executions; None if it was just deleted."""
    statuses, notices, spends, ledger_agrees = [], [], [], True
    with write_transaction(engine) as connection:
        fresh = load_budgets(connection, caps, BUDGETS.c.id == budget.id, lock=True)
        if not fresh:
            return None
        budget = fresh[0]
        window = SpendWindow.ending(now, budget.period_days)
        for each in applied_in(connection, budget, window, owner, SpendPlans(connection)):
            if each.template:  # a per-user budget no user has spent on in the window
                statuses.append(assess(each, Decimal(0), now))
                continue
            if with_ledger:
                spend, by_ledger = both_spends(connection, each, window)
                ledger_agrees = ledger_agrees and spend == by_ledger
            else:
                spend = exact_spend(connection, each, window)
            spends.append(spend)
            statuses.append(assess(each, spend, now))
            if caps.has_events:
                notices += [
                    AlertNotice.of(each, e)
                    for e in record_due_alerts(connection, each, window, spend)
                ]
        if not (budget.template and owner is not None):  # one user's spend is not the budget's
            connection.execute(
                update(BUDGETS)
                .where(BUDGETS.c.id == budget.id)
                .values(current_spend_usd=cents(max(spends, default=Decimal(0))))
            )
    return statuses, notices, ledger_agrees


def _refused_write(exc: DBAPIError) -> bool:
    """Whether the database refused a write: no privilege, a read-only transaction or file."""
    state = getattr(exc.orig, "sqlstate", None)
    return state in READ_ONLY_STATES or "readonly database" in str(exc.orig)


def _posting_lines(posting: Posting) -> list[str]:
    """What the delivery did on the webhooks; nothing when there was nothing to post."""
    lines = []
    if posting.posted:
        lines.append(f"posted {_alerts(len(posting.posted))} to {', '.join(posting.webhooks)}:")
        lines += [f"  {notice}" for notice in posting.posted]
    if posting.failed:
        lines.append(f"not posted, retried at the next evaluation ({len(posting.failed)}):")
        lines += [f"  {notice}" for notice in posting.failed]
    if posting.dropped:
        lines.append(f"not posted to every webhook, not retried ({len(posting.dropped)}):")
        lines += [f"  {notice}" for notice in posting.dropped]
    if posting.problem:
        lines.append(f"{_alerts(len(posting.unsent))} not posted to webhooks: {posting.problem}")
    return lines


def _alerts(count: int) -> str:
    return "1 alert" if count == 1 else f"{count} alerts"
