"""The database the analytics read: engine, dialect, user scope, and the tables it really has."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.engine import URL
from sqlalchemy.sql.elements import ColumnElement

from aa_notebooks.analytics.dialect import Dialect, dialect_for
from aa_notebooks.db.engine import connection_errors, get_engine, reopen_if_replaced
from aa_notebooks.db.inspection import DatabaseCheck, OddTimesWarning, check_db
from aa_notebooks.db.url import mask_url
from aa_notebooks.errors import SchemaError


def scope_label(user_id: uuid.UUID | None) -> str:
    """Whose rows a result shows, in words: "all users" or "user <id>"."""
    return "all users" if user_id is None else f"user {user_id}"


@dataclass(frozen=True)
class Source:
    """Everything a query function needs to run against one database for one scope."""

    engine: Engine
    dialect: Dialect
    user_id: uuid.UUID | None
    check: DatabaseCheck
    narrowing: tuple[tuple[str, Any], ...] = ()
    """(column, value) equalities every read adds, such as one agent's id or one model: the
    executions and the execution and latency rollups have the same columns, so a narrowed read
    can still go through the rollups."""

    @classmethod
    def open(cls, url: URL, user_id: uuid.UUID | None) -> Source:
        """Connect and check the schema once: a database without executions is a SchemaError."""
        reopen_if_replaced(url)
        engine = get_engine(url)
        check = check_db(url)
        if not check.has("agentexecutions"):
            raise SchemaError(
                f"{mask_url(url)} has no agentexecutions table: run `aa-notebooks init-db` to "
                "create the kit's tables (or `aa-notebooks check-db` to see what an attached "
                "database lacks)"
            )
        if check.odd_times:
            notes = "; ".join(note.strip() for note in check.time_notes())
            warnings.warn(OddTimesWarning(f"{mask_url(url)}: {notes}"), stacklevel=3)
        return cls(engine, dialect_for(url.get_backend_name()), user_id, check)

    @property
    def scope(self) -> str:
        """Whose executions the results show: "all users" or "user <id>"."""
        return scope_label(self.user_id)

    def narrowed(self, column: str, value: Any) -> Source:
        """This source with every read kept to rows whose `column` equals `value`."""
        return replace(self, narrowing=(*self.narrowing, (column, value)))

    def whole(self, what: str) -> Source:
        """This source, for a read that can only be kept to its user (ad hoc SQL, runs in
        flight, the user list): a narrowed source is refused instead of read wider."""
        if self.narrowing:
            columns = ", ".join(column for column, _ in self.narrowing)
            raise ValueError(f"{what} cannot be narrowed (by {columns})")
        return self

    def scope_on(self, table: Table) -> list[ColumnElement[bool]]:
        """The conditions keeping this source's rows of `table` (the executions or a rollup):
        its user's, and the narrowing's; a table without a narrowed column is an error, not a
        silently wider read."""
        found = [] if self.user_id is None else [table.c.user_id == self.user_id]
        for column, value in self.narrowing:
            if column not in table.c:
                raise ValueError(f"{table.name} has no {column} column to narrow by")
            found.append(table.c[column] == value)
        return found

    def has(self, table: str, column: str | None = None) -> bool:
        """Whether the database has the table (and column): attached databases may lack some."""
        return self.check.has(table, column)

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A read-only connection; driver connection failures become DatabaseUnavailableError."""
        with connection_errors(self.engine.url), self.engine.connect() as connection:
            self.dialect.prepare(connection)
            yield connection
