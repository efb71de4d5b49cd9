"""SQLAlchemy Core statements run as the driver's own SQL, for hot reads (the hard-stop check).

A statement is compiled once per dialect and per shape (how many values each expanding IN
parameter holds), with SQLAlchemy's own compiler, bind processors and result processors, so the
SQL and the conversions of values are exactly those `Connection.execute` would use. A run is then
a cached string, a few conversions and one DB-API execute on an autocommit connection
(`autocommit_fetch`): no SQLAlchemy execution context, no transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.selectable import SelectBase

from aa_notebooks.db.engine import autocommit_fetch

Processor = Callable[[Any], Any]
Shape = tuple[tuple[str, int], ...]
"""The number of values of each expanding parameter, by name (sorted)."""


def driver_fetch(
    engine: Engine, statement: SelectBase, values: Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    """The rows of a Core SELECT whose bound parameters take `values` (a list for an expanding
    one), read on an autocommit connection as `autocommit_fetch` reads, converted to Python
    values as SQLAlchemy converts them."""
    shape = tuple(sorted((name, len(value)) for name, value in values.items() if _many(value)))
    compiled = DriverStatement.of(engine.dialect, statement, shape)
    fetched = autocommit_fetch(engine, compiled.sql, compiled.parameters(values))
    return compiled.convert(fetched.type_codes, fetched.rows)


def _many(value: Any) -> bool:
    return isinstance(value, list | tuple)


@dataclass(frozen=True)
class _Variable:
    """One driver parameter bound at run time: from `values[source]`, or its `index`-th item
    when it is one value of an expanding parameter."""

    name: str
    source: str
    index: int | None
    process: Processor | None


@dataclass(frozen=True)
class DriverStatement:
    """A statement compiled for one dialect and shape: its driver SQL, the values bound in the
    statement itself (already converted for the driver), and how run-time values are converted
    and ordered."""

    sql: str
    fixed: Mapping[str, Any]
    variables: tuple[_Variable, ...]
    order: tuple[str, ...] | None
    """The parameters' order for a positional paramstyle (sqlite3's `?`); None when named."""
    dialect: Dialect
    column_types: tuple[Any, ...]
    _result_processors: dict[tuple[Any, ...], tuple[Processor | None, ...]] = field(
        default_factory=dict, compare=False
    )

    @classmethod
    def of(cls, dialect: Dialect, statement: SelectBase, shape: Shape) -> DriverStatement:
        """The statement compiled for `dialect` and `shape`, compiled once and then cached."""
        return _compiled(dialect, statement, shape)

    def parameters(self, values: Mapping[str, Any]) -> dict[str, Any] | tuple[Any, ...]:
        """The driver's parameters for these values: a tuple in `order`, else a dict."""
        bound = dict(self.fixed)
        for variable in self.variables:
            value = values[variable.source]
            if variable.index is not None:
                value = value[variable.index]
            bound[variable.name] = value if variable.process is None else variable.process(value)
        if self.order is None:
            return bound
        return tuple(bound[name] for name in self.order)

    def convert(
        self, type_codes: tuple[Any, ...], rows: Sequence[tuple[Any, ...]]
    ) -> list[tuple[Any, ...]]:
        """The driver's rows as SQLAlchemy returns them (UUIDs, Decimals, enums, booleans);
        its result processors depend on the type codes the driver reports, so they are kept per
        tuple of type codes."""
        processors = self._result_processors.get(type_codes)
        if processors is None:
            processors = tuple(
                kind.dialect_impl(self.dialect).result_processor(self.dialect, code)
                for kind, code in zip(self.column_types, type_codes, strict=True)
            )
            self._result_processors[type_codes] = processors
        if not any(processors):
            return [tuple(row) for row in rows]
        return [
            tuple(
                value if process is None else process(value)
                for process, value in zip(processors, row, strict=True)
            )
            for row in rows
        ]


@lru_cache(maxsize=256)
def _compiled(dialect: Dialect, statement: SelectBase, shape: Shape) -> DriverStatement:
    """Compile once; the values bound in the statement itself are converted here, once."""
    compiled = statement.compile(dialect=dialect)
    sizes = dict(shape)
    required = {name: bind for name, bind in compiled.binds.items() if bind.required}
    placeholders = {
        name: [None] * sizes.get(name, 0) if bind.expanding else None
        for name, bind in required.items()
    }
    state = compiled.construct_expanded_state(placeholders)
    fixed, variables = {}, []
    expanded_from = {
        expanded: (source, index)
        for source, names in state.parameter_expansion.items()
        for index, expanded in enumerate(names)
    }
    for name, value in state.parameters.items():
        if name in expanded_from:
            source, index = expanded_from[name]
            variables.append(_Variable(name, source, index, state.processors.get(name)))
            continue
        bind = compiled.binds[name]
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if name in required:
            variables.append(_Variable(name, name, None, process))
        else:
            fixed[name] = value if process is None else process(value)
    order = tuple(state.positiontup) if compiled.positional and state.positiontup else None
    column_types = tuple(column.type for column in statement.selected_columns)
    return DriverStatement(state.statement, fixed, tuple(variables), order, dialect, column_types)
