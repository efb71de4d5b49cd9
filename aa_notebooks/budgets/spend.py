"""A budget's spend over its window: exactly from the executions, or cheaply from the ledger or
(for readers: statuses, dashboards, reports) the rollups.

From the ledger (`LedgerSplit`), the window [start, end] is read as whole ledger hours, corrected
by two short ranges of executions, so that no range longer than half an hour is summed:

- the last hour, L = floor_hour(end), is read whole from the ledger, less the executions in
  (end, L + 1 hour): normally none, as they would have started after `end`;
- the first, partial hour is either summed from the executions of [start, ceil_hour(start)),
  or read whole from the ledger less the executions of [floor_hour(start), start), whichever
  range is shorter.

Both ways give the same number (the ledger holds each hour's exact sum); the ledger way reads at
most 24 * period_days + 1 ledger rows and under an hour of executions instead of every execution
of the window. The statements are built once per kind of scope, with bound parameters, so a
check pays for executing them, not for building and compiling them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Connection,
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    exists,
    func,
    literal_column,
    or_,
    select,
    true,
    union_all,
)

from aa_notebooks.analytics.buckets import bucket_floor
from aa_notebooks.analytics.rollup_buckets import raw_pieces
from aa_notebooks.analytics.rollup_plan import ReadPlan
from aa_notebooks.analytics.rollup_source import in_spans, plan_between
from aa_notebooks.analytics.rollup_source import utc as stored_utc
from aa_notebooks.budgets.model import Budget
from aa_notebooks.budgets.money import from_micros
from aa_notebooks.budgets.scope import EXECUTIONS, budget_key
from aa_notebooks.budgets.window import HOUR, SpendWindow, ceil_hour, floor_hour
from aa_notebooks.db.rollups.rebuild import DIRTY
from aa_notebooks.db.rollups.record import (
    EXECUTION_DAY,
    EXECUTION_HOUR,
    LATENCY_DAY,
    LATENCY_HOUR,
)
from aa_notebooks.db.rollups.state import has_rollups
from aa_notebooks.db.schema import BudgetScope
from aa_notebooks.db.spend_ledger import LEDGER


def exact_spend(connection: Connection, budget: Budget, window: SpendWindow) -> Decimal:
    """The budget's spend in the window, summed from the executions."""
    statement = _exact_statement(budget.scope, _agent_id(budget) is not None)
    return Decimal(connection.execute(statement, _params(budget, window)).scalar_one())


def rollup_spend(
    connection: Connection, budget: Budget, window: SpendWindow, plan: ReadPlan | None
) -> Decimal:
    """The budget's spend in the window as `exact_spend` gives it, with the whole hours and days
    read from the rollups (`_rollups_for`, by `plan`: the window's `spend_plan`, which budgets of
    the same period share) and only the partial hours at either end, and hours changed behind
    them, from the executions; summed from the executions where `plan` is None."""
    if plan is None:
        return exact_spend(connection, budget, window)
    by_agent_id = _agent_id(budget) is not None
    hourly, daily = _rollups_for(budget.scope)
    sums = [
        select(func.coalesce(func.sum(table.c.cost_micro_usd), 0))
        .where(counted(budget.scope, by_agent_id, table=table), in_spans(table.c.bucket, spans))
        .scalar_subquery()
        for table, spans in ((hourly, plan.hours), (daily, plan.days))
    ]
    started, cost = EXECUTIONS.c.started_at, EXECUTIONS.c.cost_usd
    raw = select(func.coalesce(func.sum(cost), 0)).where(
        counted(budget.scope, by_agent_id), in_spans(started, plan.raw)
    )
    statement = select(*sums, raw.scalar_subquery())
    row = connection.execute(statement, counted_params(budget)).one()
    return from_micros(int(row[0]) + int(row[1])) + Decimal(row[2])


def rollup_daily_spends(
    connection: Connection, budget: Budget, window: SpendWindow, plan: ReadPlan | None
) -> dict[datetime, Decimal] | None:
    """The budget's spend per UTC day (by the day's start) of the window, as a sum of its
    executions per day gives it, with the whole hours and days read from the rollups (by `plan`,
    the window's `spend_plan`) and only the partial hours, and hours changed behind them, from
    the executions; days with nothing spent are left out. None where `plan` is None."""
    if plan is None:
        return None
    by_agent_id = _agent_id(budget) is not None
    params = counted_params(budget)
    micros: dict[datetime, int] = {}
    for table, spans in zip(_rollups_for(budget.scope), (plan.hours, plan.days), strict=True):
        if not spans:
            continue
        query = (
            select(table.c.bucket, func.sum(table.c.cost_micro_usd))
            .where(counted(budget.scope, by_agent_id, table=table), in_spans(table.c.bucket, spans))
            .group_by(table.c.bucket)
        )
        for bucket, total in connection.execute(query, params):
            day = bucket_floor(stored_utc(bucket), "day")
            micros[day] = micros.get(day, 0) + int(total or 0)
    spends = {day: from_micros(total) for day, total in micros.items()}
    started, cost = EXECUTIONS.c.started_at, EXECUTIONS.c.cost_usd
    for day, lower, upper in raw_pieces(plan.raw, "day"):
        query = select(func.coalesce(func.sum(cost), 0)).where(
            counted(budget.scope, by_agent_id), started >= lower, started < upper
        )
        raw = Decimal(connection.execute(query, params).scalar_one())
        spends[day] = spends.get(day, Decimal(0)) + raw
    return spends


def _rollups_for(scope: BudgetScope) -> tuple[Table, Table]:
    """The hourly and daily rollups a budget of `scope` reads: the latency rollups (per user,
    agent and model: a fifth of the rows) unless it counts a flow, which only the execution
    rollups keep."""
    if scope is BudgetScope.flow:
        return EXECUTION_HOUR, EXECUTION_DAY
    return LATENCY_HOUR, LATENCY_DAY


def spend_plan(connection: Connection, window: SpendWindow) -> ReadPlan | None:
    """How the rollups answer [start, end]; None where there are none or they hold none of it."""
    if not has_rollups(connection):
        return None
    return plan_between(connection, window.start, window.end + timedelta.resolution)


class SpendPlans:
    """`spend_plan` of each window one read of the budgets needs, looked up once (budgets of one
    period share their window; a per-user budget's users and its spends read the same plan)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._found: dict[SpendWindow, ReadPlan | None] = {}

    def __call__(self, window: SpendWindow) -> ReadPlan | None:
        if window not in self._found:
            self._found[window] = spend_plan(self.connection, window)
        return self._found[window]


def ledger_spend(connection: Connection, budget: Budget, window: SpendWindow) -> Decimal:
    """The budget's spend in the window, from the ledger and two short ranges of executions;
    its marked hours (`stale_hours`) from the executions instead."""
    stale = has_rollups(connection)
    statement = _ledger_statement(budget.scope, _agent_id(budget) is not None, "", stale)
    split = LedgerSplit.of(window)
    row = connection.execute(statement, _params(budget, window)).one()
    spend = split.spend(row[0], Decimal(row[1]), Decimal(row[2]))
    return marked_hours_read_raw(connection, budget, window, spend) if stale and row[3] else spend


def marked_hours_read_raw(
    connection: Connection, budget: Budget, window: SpendWindow, spend: Decimal
) -> Decimal:
    """`spend` read from the ledger, with the ledger hours the triggers marked read from the
    executions instead (`stale_hours`): the ledger holds each hour whole, so an hour's ledger
    sum gives way to its executions' sum, however the window's ends cut it (`LedgerSplit`)."""
    split = LedgerSplit.of(window)
    hour = DIRTY.c.hour
    marked = connection.execute(
        select(hour).where(hour >= split.ledger_from, hour <= split.last_hour)
    ).scalars().all()  # fmt: skip
    if not marked:
        return spend
    scope, key = budget_key(budget)
    starts = [stored_utc(found).replace(tzinfo=None) for found in marked]
    ledger = select(func.coalesce(func.sum(LEDGER.c.spend_micro_usd), 0)).where(
        LEDGER.c.scope == scope, LEDGER.c.scope_key == key, LEDGER.c.hour.in_(starts)
    )
    spans = [(start, start + HOUR) for start in starts]
    started, cost = EXECUTIONS.c.started_at, EXECUTIONS.c.cost_usd
    raw = select(func.coalesce(func.sum(cost), 0)).where(
        counted(budget.scope, _agent_id(budget) is not None), in_spans(started, spans)
    )
    row = connection.execute(
        select(ledger.scalar_subquery(), raw.scalar_subquery()), counted_params(budget)
    ).one()
    return spend - from_micros(int(row[0])) + Decimal(row[1])


def both_spends(
    connection: Connection, budget: Budget, window: SpendWindow
) -> tuple[Decimal, Decimal]:
    """The spend summed from the executions and the spend from the ledger, read in one statement
    (one snapshot), so a difference means the ledger is wrong, not that a write came between."""
    statement = _both_statement(budget.scope, _agent_id(budget) is not None)
    split = LedgerSplit.of(window)
    exact, micros, head, future = connection.execute(statement, _params(budget, window)).one()
    return Decimal(exact), split.spend(micros, Decimal(head), Decimal(future))


@dataclass(frozen=True, slots=True)
class LedgerSplit:
    """How a window is read from the ledger (module docstring): the ledger hours
    [ledger_from, last_hour], plus (or, with `head_sign` -1, less) the executions of
    [head_from, head_to), less those of (end, next_hour)."""

    ledger_from: datetime
    last_hour: datetime
    head_from: datetime
    head_to: datetime
    head_sign: int
    end: datetime
    next_hour: datetime

    @classmethod
    def of(cls, window: SpendWindow) -> LedgerSplit:
        start, end = window.start, window.end
        first_whole, last_hour = ceil_hour(start), floor_hour(end)
        if first_whole - start <= start - floor_hour(start):  # the shorter range of executions
            ledger_from, head_from, head_to, sign = first_whole, start, first_whole, 1
        else:
            ledger_from, head_from, head_to, sign = floor_hour(start), floor_hour(start), start, -1
        return cls(ledger_from, last_hour, head_from, head_to, sign, end, last_hour + HOUR)

    def spend(self, micros: Any, head: Decimal, future: Decimal) -> Decimal:
        """The window's spend from the statement's three sums."""
        return from_micros(int(micros)) + self.head_sign * head - future


def _params(budget: Budget, window: SpendWindow) -> dict[str, Any]:
    """Values for every parameter of the statements below."""
    scope, key = budget_key(budget)
    split = LedgerSplit.of(window)
    return {
        **counted_params(budget),
        "start": window.start,
        "end": window.end,
        "ledger_from": split.ledger_from,
        "last_hour": split.last_hour,
        "head_from": split.head_from,
        "head_to": split.head_to,
        "next_hour": split.next_hour,
        "ledger_scope": scope,
        "ledger_key": key,
    }


@cache
def _exact_statement(scope: BudgetScope, by_agent_id: bool) -> Select[Any]:
    started, cost = EXECUTIONS.c.started_at, EXECUTIONS.c.cost_usd
    inside = and_(
        counted(scope, by_agent_id), started.between(bindparam("start"), bindparam("end"))
    )
    return select(func.coalesce(func.sum(cost), 0)).where(inside)


@cache
def _ledger_statement(
    scope: BudgetScope, by_agent_id: bool, suffix: str = "", stale: bool = False
) -> Select[Any]:
    """The three sums of `LedgerSplit`: ledger micro-dollars, the first hour's correction, the
    executions after `end`; with `stale`, a fourth column: whether any of the ledger hours read
    is one the rollups' triggers marked (`stale_hours`). Each parameter's name ends with
    `suffix`, so that several can share one statement (`ledger_spends_statement`)."""

    def bound(name: str) -> BindParameter[Any]:
        return bindparam(name + suffix)

    hours = select(func.coalesce(func.sum(LEDGER.c.spend_micro_usd), 0)).where(
        LEDGER.c.scope == bound("ledger_scope"),
        LEDGER.c.scope_key == bound("ledger_key"),
        LEDGER.c.hour >= bound("ledger_from"),
        LEDGER.c.hour <= bound("last_hour"),
    )
    started, cost = EXECUTIONS.c.started_at, EXECUTIONS.c.cost_usd
    ranges = (
        and_(started >= bound("head_from"), started < bound("head_to")),
        and_(started > bound("end"), started < bound("next_hour")),
    )
    head, future = (
        select(func.coalesce(func.sum(cost), 0)).where(counted(scope, by_agent_id, suffix), inside)
        for inside in ranges
    )
    sums: list[ColumnElement[Any]] = [
        hours.scalar_subquery(),
        head.scalar_subquery(),
        future.scalar_subquery(),
    ]
    if stale:
        sums.append(stale_hours(bound("ledger_from"), bound("last_hour")))
    return select(*sums)


def stale_hours(first: ColumnElement[Any], last: ColumnElement[Any]) -> ColumnElement[bool]:
    """Whether an hour from `first` to `last` holds rows written behind the ledger.

    The kit's writers add each execution's cost to the ledger as they insert it; rows another
    program or plain SQL inserts, updates or deletes do not move it, but the rollups' triggers
    mark their hours (`rollup_dirty_hours`) until a rebuild of the rollups, which refills those
    hours of the ledger (`db.spend_ledger`). A check reads a marked hour from the executions
    (`marked_hours_read_raw`); the kit's own rewrites (late OTLP spans) mark hours too, whose
    ledger is exact, and read the same either way."""
    return exists().where(DIRTY.c.hour >= first, DIRTY.c.hour <= last)


SpendShape = tuple[BudgetScope, bool]
"""What a budget's spend statement depends on: its scope, and whether it matches an agent id."""


def spend_shape(budget: Budget) -> SpendShape:
    return budget.scope, _agent_id(budget) is not None


@cache
def ledger_spends_statement(
    shapes: tuple[SpendShape, ...], stale: bool = False
) -> Select[Any] | CompoundSelect[Any]:
    """One row per budget, for budgets of these shapes in this order: the three sums of
    `_ledger_statement` (and with `stale` its fourth column), then its position (one statement,
    so one round trip and one snapshot for all). Its parameters are `ledger_spends_params`."""
    rows = [
        _ledger_statement(scope, by_agent_id, f"_{position}", stale).add_columns(
            literal_column(str(position), Integer).label("position")
        )
        for position, (scope, by_agent_id) in enumerate(shapes)
    ]
    return rows[0] if len(rows) == 1 else union_all(*rows)


def ledger_spends_params(budgets: list[Budget], windows: list[SpendWindow]) -> dict[str, Any]:
    """The parameters of `ledger_spends_statement` for these budgets and their windows."""
    return {
        f"{name}_{position}": value
        for position, (budget, window) in enumerate(zip(budgets, windows, strict=True))
        for name, value in _params(budget, window).items()
    }


def spends_from_rows(
    rows: list[tuple[Any, ...]], windows: list[SpendWindow]
) -> list[tuple[Decimal, bool]]:
    """Each budget's spend from the rows of `ledger_spends_statement`, in the budgets' order,
    and whether its ledger hours hold marked ones (then `marked_hours_read_raw`)."""
    by_position = sorted(rows, key=lambda row: int(row[-1]))
    return [
        (
            LedgerSplit.of(window).spend(row[0], Decimal(row[1]), Decimal(row[2])),
            len(row) > 4 and bool(row[3]),
        )
        for window, row in zip(windows, by_position, strict=True)
    ]


@cache
def _both_statement(scope: BudgetScope, by_agent_id: bool) -> Select[Any]:
    ledger = _ledger_statement(scope, by_agent_id).subquery()
    return select(_exact_statement(scope, by_agent_id).scalar_subquery(), *ledger.c)


def counted(
    scope: BudgetScope, by_agent_id: bool, suffix: str = "", table: Table = EXECUTIONS
) -> ColumnElement[bool]:
    """SQL condition on agentexecutions (or an execution rollup, which has the same dimension
    columns): the rows a budget of this scope counts (see `scope`).

    Its values are bound by name (ending with `suffix`): pass `counted_params(budget)`;
    `by_agent_id` is whether the budget's agent_id parameter is not None."""
    columns = table.c
    if scope is BudgetScope.user:
        return columns.user_id == bindparam("user_id" + suffix)
    if scope is BudgetScope.agent:
        by_name = columns.agent_name == bindparam("target" + suffix)
        if not by_agent_id:
            return by_name
        return or_(by_name, columns.agent_id == bindparam("agent_id" + suffix))
    if scope is BudgetScope.flow:
        return columns.flow_id == bindparam("target" + suffix)
    return true()


def counted_params(budget: Budget) -> dict[str, Any]:
    """Values for the bound parameters of `counted` (user_id, target, agent_id)."""
    return {"user_id": budget.user_id, "target": budget.target, "agent_id": _agent_id(budget)}


def _agent_id(budget: Budget) -> uuid.UUID | None:
    """The agent id an agent budget's target names, when it is a UUID."""
    return target_agent_id(budget.scope, budget.target)


def target_agent_id(scope: BudgetScope, target: str | None) -> uuid.UUID | None:
    """The agent id a budget of `scope` watching `target` names: for agent scope, a UUID target."""
    if scope is not BudgetScope.agent or not target:
        return None
    try:
        return uuid.UUID(target)
    except ValueError:
        return None
