"""Cost by model from the token usage rows, on top of the executions' own sums per model.

The definition (the README says it in the same words): each token usage row counts under its
own model, with its own cost and tokens; what an execution's usage rows do not account for
(all of it, for an execution without usage rows) counts under the execution's own model. So an
execution's cost is split between the models that did its work, and the total stays the
executions' own total, the one the overview, cost by agent and budgets show. An execution
counts once under its own model and once under each other model its usage rows name.

How: the executions' sums per model (`model_name`) come from a GROUP BY that is run anyway (the
overview's (agent, model) pass, or a time series' buckets); only usage rows whose model differs
from their execution's change the split. One more GROUP BY, over the window's executions joined
to those rows, gives per (row model, execution model) their tokens, their cost and how many
executions have them: added to the row's model and taken from the execution's, they move
exactly what belongs elsewhere, and every total is left as it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, RowMapping, distinct, func, select, text
from sqlalchemy.sql.elements import ColumnElement

from aa_notebooks.analytics.filters import EXECUTIONS, TOKEN_USAGES, in_scope, in_window
from aa_notebooks.analytics.frames import ratio
from aa_notebooks.analytics.pairs import Pair, grouped, totals
from aa_notebooks.analytics.periods import Window
from aa_notebooks.analytics.source import Source
from aa_notebooks.formatting import coverage_percent
from aa_notebooks.pricing import calculate_cost, is_priced, price_source

_USAGE_INDEXED = text(
    "SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a"
    " ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]"
    " WHERE i.indrelid = to_regclass('tokenusages') AND a.attname = 'execution_id')"
)
"""Whether tokenusages has an index whose first column is execution_id (PostgreSQL)."""

Model = str | None
"""A model name; None for executions or usage rows that name no model."""


@dataclass(frozen=True)
class MovedUsage:
    """Usage rows of one model in executions of another model, summed."""

    row_model: Model
    execution_model: Model
    executions: int
    """How many executions have such rows."""
    input_tokens: int
    output_tokens: int
    cost: Decimal


@dataclass(frozen=True)
class Sums:
    """What counts under one key (a model; an agent in a time series): executions, tokens, cost."""

    executions: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cost: Decimal

    def plus(self, rows: MovedUsage) -> Sums:
        """These sums with `rows` (and their executions) added."""
        return Sums(
            self.executions + rows.executions,
            self.input_tokens + rows.input_tokens,
            self.output_tokens + rows.output_tokens,
            self.total_tokens + rows.input_tokens + rows.output_tokens,
            self.cost + rows.cost,
        )

    def minus(self, rows: MovedUsage) -> Sums:
        """These sums with the tokens and cost of `rows` taken away (executions stay)."""
        return Sums(
            self.executions,
            self.input_tokens - rows.input_tokens,
            self.output_tokens - rows.output_tokens,
            self.total_tokens - rows.input_tokens - rows.output_tokens,
            self.cost - rows.cost,
        )

    @property
    def below_zero(self) -> bool:
        """Whether usage rows took more from this model than its executions had."""
        return self.cost < 0 or min(self.input_tokens, self.output_tokens, self.total_tokens) < 0


NOTHING = Sums(0, 0, 0, 0, Decimal(0))


def unpriced_models(costs: Iterable[tuple[Model, Decimal]]) -> tuple[str, ...]:
    """The named models, with their costs in a window, that cost nothing there because nothing
    priced them: pricing here does not know them and their stored cost is 0 (a model the agents
    priced with a price file this process does not read has a cost), sorted, each once."""
    return tuple(sorted({m for m, cost in costs if m and not was_priced(m, cost)}))


def was_priced(model: Model, cost: Decimal) -> bool:
    """Whether a model's window was priced: pricing here knows it, or its runs cost something."""
    return bool(model) and (cost > 0 or is_priced(model))


def recorded_unpriced(split: Iterable[tuple[Model, Sums]]) -> tuple[str, ...]:
    """The named models whose tokens in a window are stored at $0 although pricing here prices
    them: recorded before their price was known (no price file then). `reprice` prices their
    stored rows; until then the totals leave them out, though the coverage counts them priced.
    Left out: a model whose price is 0, one whose average run costs less than a micro-dollar
    (each row rounds to 0, as reprice would store it too), and one with dated prices (which
    price its runs' days, not today)."""
    found = set()
    for model, sums in split:
        if not model or sums.cost != 0 or sums.executions <= 0:
            continue
        price = price_source(model)
        if price is None or price.effective_from is not None:
            continue  # unpriced, or dated: the price of the runs' days may well be 0
        each_in, each_out = (
            max(n, 0) // sums.executions for n in (sums.input_tokens, sums.output_tokens)
        )
        if calculate_cost(model, each_in, each_out) > 0:  # a run's rows would cost something
            found.add(model)
    return tuple(sorted(found))


def unpriced_note(models: Iterable[str]) -> str | None:
    """The note for models that nothing prices, whose costs count as $0; None when none."""
    names = ", ".join(models)
    return f"Unpriced models (their calls count as $0): {names}" if names else None


def reprice_note(models: tuple[str, ...]) -> str | None:
    """The note for `recorded_unpriced` models; None when there are none."""
    if not models:
        return None
    return (
        f"Stored at $0, priced now: {', '.join(models)} (recorded before their price was known); "
        "`aa-notebooks reprice --start ... --end ...` prices their stored rows"
    )


def cost_coverage(split: Iterable[tuple[Model, Sums]]) -> float | None:
    """The share of tokens, in percent, whose model was priced (`was_priced`; the rest cost $0
    here); None when there are no tokens. A model's tokens are its total_tokens, or its input
    plus output tokens where those are more (a writer that leaves total_tokens at its default
    0, or NULL, still has its tokens counted)."""
    priced = total = 0
    for model, sums in split:
        # a negative remainder counts nothing
        tokens = max(sums.total_tokens, sums.input_tokens + sums.output_tokens, 0)
        total += tokens
        if was_priced(model, sums.cost):
            priced += tokens
    return ratio(priced, total, 100)


def coverage_note(coverage: float | None) -> str | None:
    """The note that goes next to a total when some tokens are not priced; None otherwise."""
    if coverage is None or coverage >= 100:
        return None
    return f"Cost coverage: {coverage_percent(coverage)} of tokens are priced by a known price"


def execution_sums(pairs: Iterable[Pair]) -> dict[Model, Sums]:
    """The executions' own sums per model (`model_name`), from the window's (agent, model) sums."""
    sums = {}
    for model, members in grouped(pairs, lambda pair: pair.model).items():
        counts, cost = totals(members)
        sums[model] = Sums(
            counts["executions"], counts["input"], counts["output"], counts["tokens"], cost
        )
    return sums


Columns = list[ColumnElement[Any]]


def moved_columns(source: Source) -> tuple[Columns, Columns, Columns]:
    """A moved-usage query's key columns, its aggregates and its GROUP BY."""
    u, e = TOKEN_USAGES.c, EXECUTIONS.c
    keys: Columns = [u.model.label("row_model"), e.model_name.label("execution_model")]
    measures: Columns = [
        func.count(distinct(u.execution_id)).label("executions"),
        func.sum(u.input_tokens).label("input_tokens"),
        func.sum(u.output_tokens).label("output_tokens"),
        source.dialect.money_sum(u.cost_usd).label("cost"),
    ]
    return keys, measures, [u.model, e.model_name]


def moved_rows(source: Source) -> list[ColumnElement[bool]]:
    """Usage rows of the executions in scope whose model is not their execution's model."""
    u, e = TOKEN_USAGES.c, EXECUTIONS.c
    return [
        u.execution_id == e.id,
        u.model.is_distinct_from(e.model_name),
        *in_scope(source),
    ]


def read_moved(source: Source, row: RowMapping) -> MovedUsage:
    """A MovedUsage from a row with the columns of `moved_columns`."""
    return MovedUsage(
        row_model=row["row_model"],
        execution_model=row["execution_model"],
        executions=int(row["executions"]),
        input_tokens=int(row["input_tokens"] or 0),
        output_tokens=int(row["output_tokens"] or 0),
        cost=source.dialect.to_money(row["cost"]),
    )


def favour_index_probes(source: Source, connection: Connection) -> None:
    """On PostgreSQL, join through the usage rows' index (a nested loop) when there is one.

    The planner hashes the whole tokenusages table instead, even for a short window: measured
    at 1M executions, 0.9 s where probing the index took 0.35 s (7 days), 1.8-2.0 s against
    1.0 s (30 days). Without an index led by execution_id (the data contract's DDL has none) the
    hash join stays, as probing would scan the table once per execution. SET LOCAL ends with
    this read-only transaction: run the join last.
    """
    if source.dialect.name == "postgresql" and connection.execute(_USAGE_INDEXED).scalar_one():
        connection.exec_driver_sql("SET LOCAL enable_hashjoin = off")
        connection.exec_driver_sql("SET LOCAL enable_mergejoin = off")


def load_moved(source: Source, window: Window, connection: Connection) -> list[MovedUsage]:
    """The window's moved usage rows; none when the database has no usage table."""
    return load_moved_where(source, in_window(window), connection)


def load_moved_where(
    source: Source, started: ColumnElement[bool], connection: Connection
) -> list[MovedUsage]:
    """The moved usage rows of the executions that meet `started`; none when the database has
    no usage table."""
    if not source.has("tokenusages"):
        return []
    favour_index_probes(source, connection)
    keys, measures, groups = moved_columns(source)
    query = select(*keys, *measures).where(started, *moved_rows(source)).group_by(*groups)
    return [read_moved(source, row._mapping) for row in connection.execute(query)]


def split_by_model(
    executions: Mapping[Model, Sums], moved: Iterable[MovedUsage]
) -> dict[Model, Sums]:
    """Each model's sums: its executions' own, plus its rows elsewhere, less others' rows in its
    executions."""
    split = dict(executions)
    for rows in moved:
        split[rows.row_model] = split.get(rows.row_model, NOTHING).plus(rows)
        split[rows.execution_model] = split.get(rows.execution_model, NOTHING).minus(rows)
    return split


def split_notes(source: Source, split: Iterable[tuple[Model, Sums]]) -> tuple[str, ...]:
    """The warnings that go with a cost by model (or its buckets): unpriced models, usage rows
    that claim more than their executions, a database without usage rows."""
    cells = list(split)
    notes = []
    if note := unpriced_note(unpriced_models((model, sums.cost) for model, sums in cells)):
        notes.append(note)
    if note := coverage_note(cost_coverage(cells)):
        notes.append(note)
    if note := reprice_note(recorded_unpriced(cells)):
        notes.append(note)
    overclaimed = {model or "(no model)" for model, sums in cells if sums.below_zero}
    if overclaimed:
        notes.append(
            "Usage rows add up to more than their executions' own cost or tokens; the "
            f"difference shows as a negative amount under the executions' model: "
            f"{', '.join(sorted(overclaimed))}"
        )
    if not source.has("tokenusages"):
        notes.append("The database has no tokenusages table: costs go by each execution's model")
    return tuple(notes)
