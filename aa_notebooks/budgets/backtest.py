"""Budget backtests: what a budget would have done over past executions, had it existed.

The replay follows the live rules exactly, execution by execution in start order:

- the spend of a budget at a moment t is the cost of its scope's executions that started in
  [t - period_days, t] (`window.SpendWindow`);
- a hard stop refuses an execution when, as it starts, that spend is at or past the threshold
  (`guard`); a refused execution adds nothing, so later ones see the lower spend;
- each alert level (a percentage of the threshold; 100 is "exceeded") fires when an execution
  leaves the spend at or past it and the level has not fired within the window: once per
  window, however often the spend dips under the level and back as old runs leave the window.
- a per-user budget keeps all of this for each user separately: each user's own window spend,
  levels and refusals.

Executions are streamed from the database in start order (a server-side cursor), never loaded
whole; the replay keeps only the window's (start, cost) pairs and per-day sums. The executions of
the period_days before the backtest's first day fill the first window without being judged.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from html import escape
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import Engine, Select, String, and_, select, type_coerce

from aa_notebooks.budgets.fields import validated
from aa_notebooks.budgets.model import Budget
from aa_notebooks.budgets.scope import EXECUTIONS
from aa_notebooks.budgets.spend import counted, counted_params, target_agent_id
from aa_notebooks.budgets.window import utc
from aa_notebooks.errors import InvalidInputError
from aa_notebooks.formatting import money

if TYPE_CHECKING:
    import altair as alt

MAX_DAYS = 3660
"""The longest history a backtest replays (ten years)."""
STREAM_ROWS = 5_000
"""Rows fetched per round trip while streaming the executions."""
LEVEL_COLUMNS = ["level_pct", "fired_at", "spend_usd", "level_usd", "execution_id", "user_id"]
REFUSED_COLUMNS = ["id", "started_at", "agent_name", "user_id", "cost_usd"]
DAILY_COLUMNS = ["day", "spend_usd", "spend_with_budget_usd", "window_spend_usd",
                 "window_spend_with_budget_usd"]  # fmt: skip


@dataclass(frozen=True)
class BudgetBacktest:
    """What a hypothetical budget would have done over `days` days ending at `end`.

    `events`: the alert levels it would have fired (percent, time, window spend then);
    `refused`: the executions a hard stop would have refused; `saved_usd`: their cost;
    `daily`: per UTC day, the scope's spend and window spend as they were and with the budget.
    """

    budget: Budget
    levels: tuple[int, ...]
    start: datetime
    end: datetime
    executions: int
    events: pd.DataFrame
    refused: pd.DataFrame
    saved_usd: Decimal
    daily: pd.DataFrame
    notes: tuple[str, ...] = field(default=())

    @property
    def days(self) -> int:
        """How many days were replayed."""
        return (self.end - self.start).days

    def to_frame(self) -> pd.DataFrame:
        """One row: the budget, the history replayed and what it would have done."""
        budget = self.budget
        return pd.DataFrame(
            [
                {
                    "scope": budget.scope.value,
                    "target": budget.target or (str(budget.user_id) if budget.user_id else None),
                    "per_user": budget.per_user,
                    "threshold_usd": float(budget.threshold_usd),
                    "period_days": budget.period_days,
                    "alert_type": budget.alert_type.value,
                    "levels": ",".join(str(level) for level in self.levels),
                    "days": self.days,
                    "executions": self.executions,
                    "alerts": len(self.events),
                    "refused": len(self.refused),
                    "saved_usd": float(self.saved_usd),
                }
            ]
        )

    def __str__(self) -> str:
        budget = self.budget
        lines = [
            f"Backtest of a {budget.alert_type.value} budget of {money(budget.threshold_usd)} "
            f"per {budget.period_days} day(s), {_scope_text(budget)}, over {self.days} day(s) "
            f"to {self.end:%Y-%m-%d %H:%M} UTC: {self.executions:,} executions",
        ]
        lines += [f"note: {note}" for note in self.notes]
        if self.events.empty:
            lines.append("no alert would have fired")
        for level, fired in self.events.groupby("level_pct", sort=True):
            first, last = fired.iloc[0], fired.iloc[-1]
            lines.append(
                f"{level:>3}% ({money(first.level_usd)}) would have fired {len(fired):,} time(s): "
                f"first at {first.fired_at:%Y-%m-%d %H:%M:%S} UTC (window spend "
                f"{money(first.spend_usd)})"
                + (f", last at {last.fired_at:%Y-%m-%d %H:%M:%S} UTC" if len(fired) > 1 else "")
            )
        if budget.hard_stop:
            lines.append(
                f"refused: {len(self.refused):,} executions, saving {money(self.saved_usd)}"
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        summary = self.to_frame().to_html(index=False, escape=True)
        events = self.events.to_html(index=False, escape=True)
        refused = self.refused.head(200).to_html(index=False, escape=True)
        notes = "".join(f"<p>{escape(note)}</p>" for note in self.notes)
        return (
            f"<h4>Budget backtest</h4>{notes}{summary}<h5>Alerts that would have fired</h5>"
            f"{events}<h5>Executions a hard stop would have refused (first 200)</h5>{refused}"
        )

    def chart(self) -> alt.LayerChart | alt.FacetChart:
        """The window spend per day as it was and with the budget, the threshold as a rule and
        each alert that would have fired as a point (Altair: the `notebook` extra)."""
        import altair as alt  # here: the base install (agents, the CLI) has no Altair

        lines = self.daily.melt(
            id_vars=["day"],
            value_vars=["window_spend_usd", "window_spend_with_budget_usd"],
            var_name="series",
            value_name="usd",
        )
        lines["series"] = lines["series"].map(
            {"window_spend_usd": "as it was", "window_spend_with_budget_usd": "with the budget"}
        )
        x = alt.X("day:T", title="Day (UTC)")
        spend = (
            alt.Chart(lines)
            .mark_line()
            .encode(
                x=x,
                y=alt.Y("usd:Q", title=f"Spend over {self.budget.period_days} day(s), USD"),
                color=alt.Color("series:N", title=None),
            )
        )
        limit = (
            alt.Chart(pd.DataFrame({"usd": [float(self.budget.threshold_usd)]}))
            .mark_rule(strokeDash=[4, 4], color="#c0392b")
            .encode(y="usd:Q")
        )
        fired = alt.Chart(self.events.assign(day=self.events["fired_at"])).mark_point(
            filled=True, size=70, color="#c0392b"
        )
        fired = fired.encode(
            x=alt.X("day:T"),
            y=alt.Y("spend_usd:Q"),
            tooltip=["level_pct:Q", "fired_at:T", "spend_usd:Q"],
        )
        return alt.layer(spend, limit, fired).properties(width=720, height=260)


def backtest_budget(
    engine: Engine,
    now: datetime,
    *,
    threshold_usd: Decimal | float | str,
    period_days: int = 30,
    scope: str | None = None,
    target: str | None = None,
    budget_user_id: uuid.UUID | str | None = None,
    alert_type: str = "warning",
    alert_at_percentage: int = 80,
    levels: Sequence[int] | None = None,
    days: int = 90,
    viewer: uuid.UUID | None = None,
    per_user: bool = False,
) -> BudgetBacktest:
    """Replay `days` days ending at `now` under a budget defined as `create` takes it.

    `levels` are more alert percentages, beside `alert_at_percentage` and 100, as `create`
    takes them (`Budget.levels`); `viewer` (a
    scoped client's user) restricts the executions read to that user's; `per_user` replays a
    budget that applies to every user separately."""
    budget = _hypothetical(
        threshold_usd,
        period_days,
        scope,
        target,
        budget_user_id,
        alert_type,
        alert_at_percentage,
        per_user,
    )
    chosen = _levels(levels, budget.alert_at_percentage)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise InvalidInputError(f"days must be a whole number from 1 to {MAX_DAYS}, got {days!r}")
    end = utc(now)
    start = end - timedelta(days=days)
    period = timedelta(days=budget.period_days)
    replay = _Replay(budget, chosen, start, period)
    with engine.connect() as connection:
        rows = connection.execution_options(yield_per=STREAM_ROWS).execute(
            _executions_query(budget, viewer, start - period, end), counted_params(budget)
        )
        replay.run(rows)
    notes = () if replay.judged else ("no executions of this scope in the period",)
    return replay.result(end, notes)


def _hypothetical(
    threshold_usd: Decimal | float | str,
    period_days: int,
    scope: str | None,
    target: str | None,
    budget_user_id: uuid.UUID | str | None,
    alert_type: str,
    alert_at_percentage: int,
    per_user: bool,
) -> Budget:
    """The budget as `create` would store it (the same validation and messages)."""
    fields: dict[str, Any] = {
        "name": "backtest",
        "threshold_usd": threshold_usd,
        "period_days": period_days,
        "alert_type": alert_type,
        "alert_at_percentage": alert_at_percentage,
        "per_user": per_user,
    }
    if scope is not None:
        fields["scope"] = scope
    if target is not None:
        fields["target"] = target
    if budget_user_id is not None:
        fields["user_id"] = budget_user_id
    return validated(fields, Decimal(0))


def _levels(levels: Sequence[int] | None, alert_at: int) -> tuple[int, ...]:
    """The alert percentages, ascending, each 1..100 once: `levels`, `alert_at` and 100
    (exceeded), as a stored budget's (`Budget.levels`)."""
    chosen = [alert_at, *(levels or ())]
    for level in chosen:
        if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 100:
            raise InvalidInputError(
                f"alert levels must be whole percentages from 1 to 100, got {level!r}"
            )
    return tuple(sorted({*chosen, 100}))


def _executions_query(
    budget: Budget, viewer: uuid.UUID | None, start: datetime, end: datetime
) -> Select[Any]:
    """The scope's executions that started in [start, end], in start order."""
    columns = EXECUTIONS.c
    by_agent_id = target_agent_id(budget.scope, budget.target) is not None
    scope = columns.user_id.is_not(None) if budget.template else counted(budget.scope, by_agent_id)
    conditions = [
        scope,
        columns.started_at >= start.replace(tzinfo=None),
        columns.started_at <= end.replace(tzinfo=None),
    ]
    if viewer is not None:
        conditions.append(columns.user_id == viewer)
    ident = type_coerce(columns.id, String())  # parsed only for the few rows reported
    return (
        select(ident, columns.started_at, columns.agent_name, columns.user_id, columns.cost_usd)
        .where(and_(*conditions))
        .order_by(columns.started_at, columns.id)
    )


@dataclass
class _Window:
    """One rolling window's state: its (start, cost) pairs, their sum, when each level last
    fired. A budget has one; a per-user budget one per user."""

    runs: deque[tuple[datetime, Decimal]] = field(default_factory=deque)
    spend: Decimal = Decimal(0)
    last_fired: dict[int, datetime] = field(default_factory=dict)

    def slide(self, started: datetime, period: timedelta) -> None:
        """Drop the runs that started before `started - period`."""
        while self.runs and self.runs[0][0] < started - period:
            self.spend -= self.runs.popleft()[1]


class _Replay:
    """The rolling-window replay: one pass over the executions in start order."""

    def __init__(
        self, budget: Budget, levels: tuple[int, ...], start: datetime, period: timedelta
    ) -> None:
        self.budget, self.levels, self.start, self.period = budget, levels, start, period
        threshold = budget.threshold_usd
        self.level_usd = {level: threshold * level / 100 for level in levels}
        self.windows: dict[str | None, _Window] = {}
        self.events: list[dict[str, Any]] = []
        self.refused: list[dict[str, Any]] = []
        self.actual: dict[date, Decimal] = {}
        self.kept: dict[date, Decimal] = {}
        self.judged = 0

    def run(self, rows: Iterable[Any]) -> None:
        zero = Decimal(0)
        for ident, started, agent, user, cost in rows:
            self.take(ident, utc(started), agent, _optional_text(user), cost or zero)

    def take(
        self, ident: object, started: datetime, agent: str | None, user: str | None, cost: Decimal
    ) -> None:
        """One execution, as the live budget would have seen it start and then be recorded."""
        window = self.windows.setdefault(user if self.budget.per_user else None, _Window())
        window.slide(started, self.period)
        day = started.date()
        self.actual[day] = self.actual.get(day, Decimal(0)) + cost
        if started < self.start:  # fills the first window; judged by nothing
            self._add(window, started, cost, day)
            return
        self.judged += 1
        if self.budget.hard_stop and window.spend >= self.budget.threshold_usd:
            self.refused.append(
                {
                    "id": _text(ident),
                    "started_at": started,
                    "agent_name": agent,
                    "user_id": user,
                    "cost_usd": cost,
                }
            )
            return
        self._add(window, started, cost, day)
        for level in self.levels:
            reached = self.level_usd[level]
            last = window.last_fired.get(level)
            quiet = last is None or last < started - self.period
            if window.spend >= reached and quiet:
                window.last_fired[level] = started
                self.events.append(
                    {
                        "level_pct": level,
                        "fired_at": started,
                        "spend_usd": window.spend,
                        "level_usd": reached,
                        "execution_id": _text(ident),
                        "user_id": user if self.budget.per_user else None,
                    }
                )

    def _add(self, window: _Window, started: datetime, cost: Decimal, day: date) -> None:
        window.runs.append((started, cost))
        window.spend += cost
        self.kept[day] = self.kept.get(day, Decimal(0)) + cost

    def result(self, end: datetime, notes: tuple[str, ...]) -> BudgetBacktest:
        refused = pd.DataFrame(self.refused, columns=REFUSED_COLUMNS)
        saved = sum((row["cost_usd"] for row in self.refused), Decimal(0))
        return BudgetBacktest(
            budget=self.budget,
            levels=self.levels,
            start=self.start,
            end=end,
            executions=self.judged,
            events=pd.DataFrame(self.events, columns=LEVEL_COLUMNS),
            refused=refused,
            saved_usd=saved,
            daily=self._daily(end),
            notes=notes,
        )

    def _daily(self, end: datetime) -> pd.DataFrame:
        """Per day of the backtest: spend and window spend at the day's end, as it was and with
        the budget (a window of whole days ending at midnight: the period's days up to it)."""
        first = (self.start - self.period).date()
        days = [first + timedelta(days=n) for n in range((end.date() - first).days + 1)]
        span = self.period.days
        rows = []
        for index, day in enumerate(days):
            if day < self.start.date():
                continue
            recent = days[max(0, index - span + 1) : index + 1]
            rows.append(
                {
                    "day": pd.Timestamp(day),
                    "spend_usd": float(self.actual.get(day, 0)),
                    "spend_with_budget_usd": float(self.kept.get(day, 0)),
                    "window_spend_usd": float(_total(self.actual, recent)),
                    "window_spend_with_budget_usd": float(_total(self.kept, recent)),
                }
            )
        return pd.DataFrame(rows, columns=DAILY_COLUMNS)


def _text(ident: object) -> str:
    """An execution id as text, whether the driver gave a UUID or SQLite's 32 hex digits."""
    return str(ident if isinstance(ident, uuid.UUID) else uuid.UUID(str(ident)))


def _optional_text(ident: object) -> str | None:
    """A user id as text (None stays None)."""
    return None if ident is None else _text(ident)


def _total(sums: Mapping[date, Decimal], days: Iterable[date]) -> Decimal:
    return sum((sums.get(day, Decimal(0)) for day in days), Decimal(0))


def _scope_text(budget: Budget) -> str:
    if budget.scope.value == "global":
        return "all executions"
    if budget.template:
        return "each user separately"
    if budget.scope.value == "user":
        return f"user {budget.user_id}"
    return f"{budget.scope.value} {budget.target}"
