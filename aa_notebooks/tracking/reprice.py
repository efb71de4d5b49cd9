"""`reprice`: recompute stored costs with today's price table, per model, in one transaction.

Each token usage row of the executions that started in the window is priced again by
`priced_cost` at its execution's start (so dated prices apply by time) and gets the new price's
provenance. An execution's cost moves by the sum of its rows' differences, which keeps whatever
part of it no usage row accounts for; an execution without usage rows is priced again from its
own model and tokens. Rows of models that nothing prices now keep their cost (their stored cost
may come from the agent itself) and are counted as such. The budgets' spend ledger moves by the
same differences, and the rollups of the days touched are rebuilt, in the same transaction: the
numbers before and after agree everywhere or nothing is written.
"""

from __future__ import annotations

import uuid
import warnings
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import (
    Connection,
    RowMapping,
    bindparam,
    exists,
    func,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import URL
from sqlalchemy.sql.elements import ColumnElement

from aa_notebooks.budgets.capabilities import capabilities
from aa_notebooks.budgets.ledger import add_spend, spends
from aa_notebooks.budgets.transactions import read_transaction, write_transaction
from aa_notebooks.db.bulk import column_limits
from aa_notebooks.db.engine import connection_errors, get_engine
from aa_notebooks.db.rollups.rebuild import rebuild_in
from aa_notebooks.db.rollups.state import has_rollups
from aa_notebooks.db.schema import AgentExecution, TokenUsage, table_of
from aa_notebooks.db.url import require_database
from aa_notebooks.errors import InvalidInputError
from aa_notebooks.formatting import money
from aa_notebooks.pricing import PricedCost, UnpricedModelWarning, priced_cost

EXECUTIONS = table_of(AgentExecution)
USAGES = table_of(TokenUsage)
PARTS = ("cache_read_tokens", "cache_write_tokens", "reasoning_tokens")
PROVENANCE = ("price_source", "price_date")
COLUMNS = ["model", "usage_rows", "executions_without_usage", "unpriced_kept", "old_cost_usd",
           "new_cost_usd", "difference_usd"]  # fmt: skip
MAX_DAYS = 3660
STREAM_ROWS = 10_000
WRITE_ROWS = 10_000


@dataclass
class _ModelTally:
    usage_rows: int = 0
    executions: int = 0
    unpriced: int = 0
    old: Decimal = Decimal(0)
    new: Decimal = Decimal(0)

    def add(self, old: Decimal, priced: PricedCost) -> bool:
        """Count one row's old and new cost (an unpriced one keeps its cost); whether it has a
        price now."""
        self.old += old
        if priced.source is None:
            self.unpriced += 1
            self.new += old
            return False
        self.new += priced.cost_usd
        return True


@dataclass(frozen=True)
class Repricing:
    """What a reprice found (and, unless `dry_run`, wrote): old and new cost per model."""

    start: date
    end: date
    model: str | None
    dry_run: bool
    by_model: pd.DataFrame
    usage_rows_changed: int
    executions_changed: int
    notes: tuple[str, ...] = field(default=())

    @property
    def difference_usd(self) -> Decimal:
        """New minus old cost over everything repriced."""
        return sum((Decimal(str(v)) for v in self.by_model["difference_usd"]), Decimal(0))

    def to_frame(self) -> pd.DataFrame:
        """Old and new cost per model (money as float)."""
        return self.by_model

    def lines(self) -> list[str]:
        """The per-model table, then what was (or would be) written."""
        scope = f" of model {self.model}" if self.model else ""
        head = f"reprice {self.start} to {self.end} (UTC days){scope} with today's prices:"
        if self.by_model.empty:
            return [head, "no executions in the window; nothing to reprice"]
        shown = self.by_model.assign(
            **{name: self.by_model[name].map(money) for name in COLUMNS if name.endswith("_usd")}
        )
        verb = "would change" if self.dry_run else "changed"
        lines = [head, shown.to_string(index=False), ""]
        lines.append(
            f"{verb} the cost of {self.usage_rows_changed:,} usage row(s) and "
            f"{self.executions_changed:,} execution(s); total difference "
            f"{money(self.difference_usd)}"
        )
        lines.append(
            "dry run: nothing written" if self.dry_run
            else "written in one transaction, with the budgets' spend ledger and the rollups"
        )  # fmt: skip
        return lines + list(self.notes)

    def __str__(self) -> str:
        return "\n".join(self.lines())


def reprice(
    url: str | URL | None,
    start: date | str,
    end: date | str,
    *,
    model: str | None = None,
    dry_run: bool = False,
) -> Repricing:
    """Reprice the executions that started on the UTC days `start` to `end` (inclusive), only
    the usage of `model` when given; with `dry_run`, compute the differences and write nothing."""
    first, last = _day(start, "start"), _day(end, "end")
    if last < first:
        raise InvalidInputError(f"end ({last}) is before start ({first})")
    if (last - first).days >= MAX_DAYS:
        raise InvalidInputError(f"reprice at most {MAX_DAYS} days at a time")
    lower = datetime(first.year, first.month, first.day, tzinfo=UTC)
    upper = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    engine = get_engine(require_database(url))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnpricedModelWarning)  # counted as unpriced_kept
        transaction = read_transaction if dry_run else write_transaction
        with connection_errors(engine.url), transaction(engine) as connection:
            usage_columns = {c["name"] for c in inspect(connection).get_columns(USAGES.name)}
            job = _Job(connection, usage_columns, model)
            job.price_usages(lower, upper)
            job.price_executions_without_usage(lower, upper)
            job.check_limits()
            if not dry_run:
                job.write(lower, upper)
    return Repricing(
        first, last, model, dry_run, job.frame(), job.usage_rows_changed,
        len(job.ledger_delta), tuple(job.notes),
    )  # fmt: skip


def _named(column: ColumnElement[Any], model: str) -> ColumnElement[bool]:
    """`column` holds `model` as pricing matches names: without case or surrounding spaces."""
    return func.lower(func.trim(column)) == model.strip().lower()


class _Job:
    """One reprice: reads, prices, tallies and writes in the caller's transaction."""

    def __init__(self, connection: Connection, usage_columns: set[str], model: str | None):
        self.connection = connection
        self.model = model
        self.parts = [name for name in PARTS if name in usage_columns]
        self.provenance = all(name in usage_columns for name in PROVENANCE)
        self.tallies: defaultdict[str, _ModelTally] = defaultdict(_ModelTally)
        self.keys = _execution_keys(capabilities(connection).has_flows)
        self.usage_updates: list[tuple[uuid.UUID, Decimal, str | None, str | None]] = []
        """(id, cost, price_source, price_date) of the usage rows whose cost or provenance
        changes: tuples, as a month of a busy database holds millions."""
        self.usage_rows_changed = 0
        self.execution_costs: dict[uuid.UUID, Decimal] = {}
        """New costs of the executions without usage rows, set whole."""
        self.ledger_delta: defaultdict[uuid.UUID, Decimal] = defaultdict(Decimal)
        """Every changed execution's cost difference; those not set whole move by it."""
        self.ledger_keys: dict[uuid.UUID, Mapping[str, Any]] = {}
        self.notes: list[str] = []

    def price_usages(self, lower: datetime, upper: datetime) -> None:
        """Price each usage row of the window's executions again at its execution's start."""
        query = (
            select(
                USAGES.c.id, USAGES.c.execution_id, USAGES.c.model, USAGES.c.input_tokens,
                USAGES.c.output_tokens, USAGES.c.cost_usd, *(USAGES.c[p] for p in self.parts),
                *(USAGES.c[p] for p in PROVENANCE if self.provenance), *self.keys,
                EXECUTIONS.c.cost_usd.label("execution_cost"),
            )
            .join(EXECUTIONS, EXECUTIONS.c.id == USAGES.c.execution_id)
            .where(EXECUTIONS.c.started_at >= lower, EXECUTIONS.c.started_at < upper)
        )  # fmt: skip
        if self.model is not None:
            query = query.where(_named(USAGES.c.model, self.model))
        for row in map(dict, self._stream(query)):
            tally = self.tallies[row["model"] or "(none)"]
            tally.usage_rows += 1
            old = Decimal(row["cost_usd"])
            priced = self._price(row["model"], row, row["started_at"])
            if not tally.add(old, priced):
                continue
            provenance = priced.provenance()
            stored = {name: row.get(name) for name in PROVENANCE}
            if priced.cost_usd != old or (self.provenance and provenance != stored):
                update_row = (row["id"], priced.cost_usd, *provenance.values())
                self.usage_updates.append(update_row)
            if priced.cost_usd != old:
                self.usage_rows_changed += 1
                self._moved(row, priced.cost_usd - old)

    def price_executions_without_usage(self, lower: datetime, upper: datetime) -> None:
        """Price the window's executions that have no usage row from their own model."""
        has_usage = exists().where(USAGES.c.execution_id == EXECUTIONS.c.id)
        query = select(
            EXECUTIONS.c.id.label("execution_id"), EXECUTIONS.c.model_name,
            EXECUTIONS.c.input_tokens, EXECUTIONS.c.output_tokens, EXECUTIONS.c.cost_usd,
            *self.keys,
        ).where(
            EXECUTIONS.c.started_at >= lower, EXECUTIONS.c.started_at < upper, ~has_usage
        )  # fmt: skip
        if self.model is not None:
            query = query.where(_named(EXECUTIONS.c.model_name, self.model))
        for row in map(dict, self._stream(query)):
            tally = self.tallies[row["model_name"] or "(none)"]
            tally.executions += 1
            old = Decimal(row["cost_usd"] or 0)
            priced = self._price(row["model_name"], row, row["started_at"])
            if tally.add(old, priced) and priced.cost_usd != old:
                self.execution_costs[row["execution_id"]] = priced.cost_usd
                self._moved(row, priced.cost_usd - old)

    def check_limits(self) -> None:
        """InvalidInputError naming the first new cost its column cannot hold (a price file's
        typo: $20 per token), before anything is written or shown as a dry run's."""
        for key, cost, *_ in self.usage_updates:
            _check_cost(cost, f"usage row {key}")
        for key, delta in self.ledger_delta.items():
            whole = self.execution_costs.get(key)
            moved = Decimal(self.ledger_keys[key].get("execution_cost") or 0) + delta
            _check_cost(moved if whole is None else whole, f"execution {key}")

    def _moved(self, row: Mapping[str, Any], delta: Decimal) -> None:
        """Count an execution's cost difference towards the budgets' spend ledger."""
        self.ledger_delta[row["execution_id"]] += delta
        self.ledger_keys[row["execution_id"]] = row

    def write(self, lower: datetime, upper: datetime) -> None:
        """Store the new costs, move the ledger and rebuild the rollups of the window's days."""
        connection = self.connection
        if self.usage_updates:
            values: dict[str, Any] = {"cost_usd": bindparam("cost")}
            if self.provenance:
                values |= {name: bindparam(name) for name in PROVENANCE}
            statement = update(USAGES).where(USAGES.c.id == bindparam("key")).values(values)
            updates = self.usage_updates
            for start in range(0, len(updates), WRITE_ROWS):
                connection.execute(statement, [
                    {"key": key, "cost": cost, "price_source": source, "price_date": day}
                    for key, cost, source, day in updates[start : start + WRITE_ROWS]
                ])  # fmt: skip
        deltas = {k: d for k, d in self.ledger_delta.items() if k not in self.execution_costs}
        if deltas:
            moved = (
                update(EXECUTIONS)
                .where(EXECUTIONS.c.id == bindparam("key"))
                .values(cost_usd=func.coalesce(EXECUTIONS.c.cost_usd, 0) + bindparam("delta"))
            )
            connection.execute(moved, [{"key": k, "delta": d} for k, d in deltas.items()])
        if self.execution_costs:
            priced = (
                update(EXECUTIONS)
                .where(EXECUTIONS.c.id == bindparam("key"))
                .values(cost_usd=bindparam("cost"))
            )
            connection.execute(
                priced, [{"key": k, "cost": c} for k, c in self.execution_costs.items()]
            )
        caps = capabilities(connection)
        if caps.has_ledger:
            add_spend(connection, spends(self._ledger_rows()))
        if has_rollups(connection):
            rebuild_in(connection, lower, upper)
        else:
            self.notes.append("no rollup tables here: nothing to rebuild")

    def frame(self) -> pd.DataFrame:
        """The tallies as the per-model table, the largest difference first."""
        rows = [
            {
                "model": name,
                "usage_rows": t.usage_rows,
                "executions_without_usage": t.executions,
                "unpriced_kept": t.unpriced,
                "old_cost_usd": float(t.old),
                "new_cost_usd": float(t.new),
                "difference_usd": float(t.new - t.old),
            }
            for name, t in self.tallies.items()
        ]
        frame = pd.DataFrame(rows, columns=COLUMNS)
        order = frame["difference_usd"].abs().sort_values(ascending=False, kind="stable").index
        return frame.loc[order].reset_index(drop=True)

    def _stream(self, query: Any) -> Iterable[RowMapping]:
        """The query's rows, fetched a batch at a time (a server-side cursor on PostgreSQL)."""
        return self.connection.execute(query.execution_options(yield_per=STREAM_ROWS)).mappings()

    def _price(self, model: str | None, row: Mapping[str, Any], at: datetime) -> PricedCost:
        """The row's cost at `at`; parts that do not fit their totals priced as plain input."""
        parts = {name: row.get(name) for name in self.parts}
        try:
            return priced_cost(model, row["input_tokens"] or 0, row["output_tokens"] or 0,
                               at=at, **parts)  # fmt: skip
        except InvalidInputError:
            return priced_cost(model, row["input_tokens"] or 0, row["output_tokens"] or 0, at=at)

    def _ledger_rows(self) -> Iterable[Mapping[str, Any]]:
        """Each changed execution with its cost difference, as the ledger counts spend."""
        for key, delta in self.ledger_delta.items():
            yield {**self.ledger_keys[key], "cost_usd": delta}


def _check_cost(cost: Decimal, what: str) -> None:
    high = column_limits(EXECUTIONS)["cost_usd"].high
    if cost > high:
        raise InvalidInputError(
            f"repricing would make {what} cost ${cost:,.6f}, more than cost_usd holds "
            f"(${high:,.6f}); nothing was written: check the price file's prices"
        )


def _execution_keys(with_flows: bool) -> list[Any]:
    """The execution columns the ledger keys spend by, and its start."""
    columns = [EXECUTIONS.c.user_id, EXECUTIONS.c.agent_id, EXECUTIONS.c.agent_name,
               EXECUTIONS.c.started_at]  # fmt: skip
    return [*columns, EXECUTIONS.c.flow_id] if with_flows else columns


def _day(value: date | str, name: str) -> date:
    """A UTC day given as a date or YYYY-MM-DD text."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InvalidInputError(f"{name} must be a day as YYYY-MM-DD, got {value!r}") from None
