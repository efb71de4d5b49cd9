"""`check_budget`: refuse to start an execution while a hard_stop budget of its scope is spent.

Why this is consistent with many writers at once: the check takes no lock; it reads committed
data only. Every writer adds its spend to the ledger in the transaction that inserts its
executions (`apply_spend`), so once the commit that took a budget past its threshold is done,
any check that starts afterwards reads a ledger (and partial-hour executions) that include it,
computes the exact window spend, and refuses. Only executions whose check ran before that commit
(in flight) can overshoot. The ledger's increments are atomic upserts, so no concurrent addition
is lost; a check costs one read of the hard_stop budgets and, per matching budget, one read of
at most 24 * period_days + 1 ledger rows plus under an hour of executions (`spend.LedgerSplit`).

In the kit's own database the check runs in the driver's SQL on autocommit connections
(`autocommit_fetch`), one round trip per statement: the first finds the matching active hard
stops in the small budgetalerts table (usually none: then that is all), the second reads all
their spends. Nothing is cached, so a budget created by any process counts from the next check
on; a second snapshot for the spends is as safe as one: a commit made before the check began is
in both.

Without the ledger (an attached AgentOS database) each matching budget's window is summed from
the executions instead: as consistent, slower.

Spend that a writer of this process holds but has not committed yet (its queue and the batch in
flight) is invisible to those reads; `pending` adds it, per ledger key, so a batched writer's
backlog cannot let runs through past the threshold. Read before the database, it can count a
batch that commits meanwhile twice (refusing a moment early), never zero times.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_
from sqlalchemy.engine import URL

from aa_notebooks.budgets.capabilities import Capabilities, capabilities
from aa_notebooks.budgets.fields import canonical_target, parse_uuid
from aa_notebooks.budgets.ledger import ledger_ready
from aa_notebooks.budgets.model import ROW_DEFAULTS
from aa_notebooks.budgets.money import cents, from_micros
from aa_notebooks.budgets.scope import (
    BUDGETS,
    LedgerKey,
    budget_key,
    budgets_for_keys,
    key_params,
)
from aa_notebooks.budgets.spend import LedgerSplit, exact_spend, ledger_spend, target_agent_id
from aa_notebooks.budgets.store import ACTIVE, load_budgets
from aa_notebooks.budgets.window import SpendWindow, utc
from aa_notebooks.db.bulk import storage_timestamp, storage_uuid
from aa_notebooks.db.engine import autocommit_fetch, get_engine
from aa_notebooks.db.schema import BudgetAlertType, BudgetScope
from aa_notebooks.errors import BudgetExceededError


def check_budget(
    url: str | URL | None = None,
    *,
    user_id: uuid.UUID | str | None = None,
    agent: uuid.UUID | str | None = None,
    agent_id: uuid.UUID | str | None = None,
    flow: str | None = None,
    now: datetime | None = None,
    pending: Callable[[LedgerKey], int] | None = None,
) -> None:
    """Raise BudgetExceededError when an active hard_stop budget of a matching scope (global;
    the user; the agent, by name or id; the flow) has reached its threshold; else return.

    `pending` gives the micro-dollars this process has recorded but not committed yet for a
    ledger key (see the module docstring); they count as spent."""
    engine = get_engine(url)
    caps = capabilities(engine)
    caps.require_budgets()
    now = utc(now)
    keys = _keys(user_id, agent, agent_id, flow)
    uncommitted = pending or _nothing_pending
    if _fast(caps) and ledger_ready(engine):
        _check_on_autocommit(engine, keys, now, uncommitted)
        return
    params = key_params(keys)
    read = ledger_spend if ledger_ready(engine) else exact_spend
    with engine.connect() as connection:
        for budget in load_budgets(connection, caps, _hard_stops(caps.has_targets), params):
            if caps.unavailable(budget.scope):
                continue
            held = from_micros(uncommitted(budget_key(budget)))
            spend = held + read(connection, budget, SpendWindow.ending(now, budget.period_days))
            if spend >= budget.threshold_usd:
                raise BudgetExceededError(budget.label, cents(spend), budget.threshold_usd)


@cache
def _hard_stops(has_targets: bool) -> ColumnElement[bool]:
    """SQL condition: the active hard_stop budgets of the keys bound by `key_params`."""
    hard_stop = BUDGETS.c.alert_type == BudgetAlertType.hard_stop
    return and_(ACTIVE, hard_stop, budgets_for_keys(has_targets))


def _keys(
    user_id: uuid.UUID | str | None,
    agent: uuid.UUID | str | None,
    agent_id: uuid.UUID | str | None,
    flow: str | None,
) -> set[LedgerKey]:
    """The ledger keys of an execution with these attributes: the budgets that may stop it."""
    keys = {(BudgetScope.global_.value, "")}
    if user_id is not None:
        keys.add((BudgetScope.user.value, str(parse_uuid(user_id, "user_id"))))
    if agent is not None:
        keys.add((BudgetScope.agent.value, str(agent)))
        keys.add((BudgetScope.agent.value, str(canonical_target(BudgetScope.agent, str(agent)))))
    if agent_id is not None:
        keys.add((BudgetScope.agent.value, str(parse_uuid(agent_id, "agent_id"))))
    if flow:
        keys.add((BudgetScope.flow.value, flow))
    return keys


def _fast(caps: Capabilities) -> bool:
    """Whether the database has what `_check_on_autocommit` reads (the kit's own has)."""
    return caps.has_ledger and caps.has_targets and caps.has_flows and caps.kit_owned


def _nothing_pending(key: LedgerKey) -> int:
    return 0


def _check_on_autocommit(
    engine: Engine, keys: set[LedgerKey], now: datetime, pending: Callable[[LedgerKey], int]
) -> None:
    """`check_budget` in driver SQL: one statement finds the matching hard stops (usually none),
    a second reads all their spends. Each reads what was committed when it started; what is
    pending is read before the spends, so a batch committed in between is counted."""
    driver = DriverDialect.of(engine)
    found = autocommit_fetch(engine, _matching_statement(driver), _key_values(keys, driver))
    if not found:
        return
    stops = [_HardStop.from_row(row, driver) for row in found]
    held = [from_micros(pending(stop.ledger_key(keys))) for stop in stops]
    splits = [LedgerSplit.of(SpendWindow.ending(now, stop.period_days)) for stop in stops]
    statement = _spend_statement(driver, tuple(stop.shape for stop in stops))
    values = _spend_values(stops, splits, keys, driver)
    spends = sorted(autocommit_fetch(engine, statement, values))
    for stop, split, extra, (_, micros, head, future) in zip(
        stops, splits, held, spends, strict=True
    ):
        spend = extra + split.spend(micros, driver.money(head, 6), driver.money(future, 6))
        if spend >= stop.threshold:
            raise BudgetExceededError(stop.name or str(stop.id), cents(spend), stop.threshold)


@dataclass(frozen=True)
class DriverDialect:
    """Where the fast path's driver SQL differs by database: the parameter style, the false
    literal, and how UUIDs, timestamps and NUMERIC values cross the driver (SQLite keeps UUIDs
    as 32 hex digits, timestamps as text and NUMERIC as REAL)."""

    name: str

    @classmethod
    def of(cls, engine: Engine) -> DriverDialect:
        return SQLITE if engine.dialect.name == "sqlite" else POSTGRESQL

    @property
    def sqlite(self) -> bool:
        return self.name == "sqlite"

    @property
    def false(self) -> str:
        return "0" if self.sqlite else "false"

    def param(self, name: str) -> str:
        """A named parameter in the driver's style: sqlite3's `:name`, psycopg's `%(name)s`."""
        return f":{name}" if self.sqlite else f"%({name})s"

    def bind_uuid(self, value: uuid.UUID | None) -> uuid.UUID | str | None:
        """A UUID as the driver binds it to a Uuid column."""
        return storage_uuid(value) if self.sqlite and value is not None else value

    def read_uuid(self, value: Any) -> uuid.UUID:
        """A Uuid column's value as the driver returns it."""
        return uuid.UUID(hex=value) if self.sqlite else value

    def time(self, moment: datetime) -> datetime | str:
        """An aware UTC datetime as the timestamp columns hold it: naive UTC (text on SQLite)."""
        return storage_timestamp(moment) if self.sqlite else moment.replace(tzinfo=None)

    def money(self, value: Any, places: int) -> Decimal:
        """A NUMERIC as Decimal; SQLite gives a REAL, which SQLAlchemy rounds to the column's
        scale: so here."""
        return Decimal(f"{value:.{places}f}") if self.sqlite else Decimal(value)


SQLITE, POSTGRESQL = DriverDialect("sqlite"), DriverDialect("postgresql")


@dataclass(frozen=True, slots=True)
class _HardStop:
    """What the check needs of a matching hard stop."""

    id: uuid.UUID
    name: str | None
    threshold: Decimal
    scope: BudgetScope
    target: str | None
    period_days: int

    @classmethod
    def from_row(cls, row: tuple[Any, ...], driver: DriverDialect) -> _HardStop:
        budget_id, name, threshold, scope, target, period_days = row
        if period_days is None:
            period_days = ROW_DEFAULTS["period_days"]
        return cls(
            driver.read_uuid(budget_id), name, driver.money(threshold, 2), BudgetScope(scope),
            target, period_days,
        )  # fmt: skip

    @property
    def agent_id(self) -> uuid.UUID | None:
        """The agent id an agent budget's target names, when it is a UUID."""
        return target_agent_id(self.scope, self.target)

    def ledger_key(self, keys: set[LedgerKey]) -> LedgerKey:
        """The ledger key this hard stop's spend is kept under, for an execution of `keys`."""
        if self.scope is BudgetScope.user:
            return next(key for key in keys if key[0] == BudgetScope.user.value)
        if self.scope is BudgetScope.global_:
            return (self.scope.value, "")
        return (self.scope.value, self.target or "")

    @property
    def shape(self) -> tuple[BudgetScope, bool]:
        """What its spend statement depends on: the scope, and whether it matches an agent id."""
        return self.scope, self.agent_id is not None


AGENT_SLOTS = 3
"""An execution has at most three agent keys: its name, that name as a canonical UUID, its id."""


@cache
def _matching_statement(driver: DriverDialect) -> str:
    """The active hard stops of the bound keys (see `_key_values`), as `load_budgets` orders
    them: named ones by name, then by id."""
    p = driver.param
    agents = ", ".join(p(f"agent{slot}") for slot in range(AGENT_SLOTS))
    return (
        "SELECT id, name, threshold_usd, scope, target, period_days FROM budgetalerts "
        f"WHERE alert_type = 'hard_stop' AND is_active IS NOT {driver.false} AND ("
        f"scope = 'global' OR (scope = 'user' AND user_id = {p('user')}) "
        f"OR (scope = 'agent' AND target IN ({agents})) "
        f"OR (scope = 'flow' AND target = {p('flow')})) "
        "ORDER BY name IS NULL, name, id"
    )


@cache
def _spend_statement(driver: DriverDialect, shapes: tuple[tuple[BudgetScope, bool], ...]) -> str:
    """One row per hard stop: its position and the three sums of `spend.LedgerSplit` (ledger
    micro-dollars, the first hour's correction, the executions after `end`), as
    `spend._ledger_statement` reads them."""
    p = driver.param
    rows = []
    for n, (scope, by_agent_id) in enumerate(shapes):
        counted = {
            BudgetScope.global_: "1 = 1",
            BudgetScope.user: f"user_id = {p('user')}",
            BudgetScope.agent: f"(agent_name = {p(f'target{n}')} OR agent_id = {p(f'agent{n}')})"
            if by_agent_id
            else f"agent_name = {p(f'target{n}')}",
            BudgetScope.flow: f"flow_id = {p(f'target{n}')}",
        }[scope]
        cost = f"SELECT COALESCE(SUM(cost_usd), 0) FROM agentexecutions WHERE {counted}"
        rows.append(
            f"SELECT {n}, "
            "(SELECT COALESCE(SUM(spend_micro_usd), 0) FROM budgetspendledger "
            f"WHERE scope = {p(f'scope{n}')} AND scope_key = {p(f'key{n}')} "
            f"AND hour >= {p(f'ledger_from{n}')} AND hour <= {p(f'last_hour{n}')}), "
            f"({cost} AND started_at >= {p(f'head_from{n}')} "
            f"AND started_at < {p(f'head_to{n}')}), "
            f"({cost} AND started_at > {p('end')} AND started_at < {p(f'next_hour{n}')})"
        )
    return " UNION ALL ".join(rows)


def _key_values(keys: set[LedgerKey], driver: DriverDialect) -> dict[str, Any]:
    """The parameters of `_matching_statement` for an execution's keys."""
    user = next((uuid.UUID(key) for scope, key in keys if scope == BudgetScope.user.value), None)
    agents = sorted(key for scope, key in keys if scope == BudgetScope.agent.value)
    values: dict[str, Any] = {
        "user": driver.bind_uuid(user),
        "flow": next((key for scope, key in keys if scope == BudgetScope.flow.value), None),
    }
    for slot in range(AGENT_SLOTS):
        values[f"agent{slot}"] = agents[slot] if slot < len(agents) else None
    return values


def _spend_values(
    stops: list[_HardStop], splits: list[LedgerSplit], keys: set[LedgerKey], driver: DriverDialect
) -> dict[str, Any]:
    """The parameters of `_spend_statement`: each hard stop's ledger key and window split."""
    user = next((uuid.UUID(key) for scope, key in keys if scope == BudgetScope.user.value), None)
    values = {"user": driver.bind_uuid(user), "end": driver.time(splits[0].end)}
    for position, (stop, split) in enumerate(zip(stops, splits, strict=True)):
        key = str(user) if stop.scope is BudgetScope.user else stop.target or ""
        values[f"scope{position}"] = stop.scope.value
        values[f"key{position}"] = "" if stop.scope is BudgetScope.global_ else key
        values[f"target{position}"] = stop.target
        values[f"agent{position}"] = driver.bind_uuid(stop.agent_id)
        for name in ("ledger_from", "last_hour", "head_from", "head_to", "next_hour"):
            values[f"{name}{position}"] = driver.time(getattr(split, name))
    return values
