"""Repositories named as the data contract names them, for sync and async sessions alike.

Each method is written once against a sync Session; given an AsyncSession, it runs through
`AsyncSession.run_sync` and returns an awaitable, so `await repo.create(...)` works as in the
document's examples and `repo.create(...)` works in plain scripts.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from typing import Any, Generic, TypeVar, cast

from pydantic import BaseModel
from sqlalchemy import ColumnDefault, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, defer
from sqlalchemy.orm.attributes import set_committed_value

from aa_notebooks.db.bulk import bulk_insert_rows
from aa_notebooks.db.engine import explain_database_error
from aa_notebooks.db.not_stored import say_not_stored
from aa_notebooks.db.records import (
    AgentExecutionCreate,
    BudgetAlertCreate,
    ExecutionTraceCreate,
    TokenUsageCreate,
    validated,
    with_finished_times,
)
from aa_notebooks.db.rollups.record import begin_writing, record_rollups
from aa_notebooks.db.schema import (
    AgentExecution,
    Base,
    BudgetAlert,
    ExecutionTrace,
    TokenUsage,
    table_of,
)
from aa_notebooks.db.stored_uuid import as_referenced, with_references
from aa_notebooks.db.users import add_missing_users
from aa_notebooks.errors import InvalidInputError

ModelT = TypeVar("ModelT", bound=Base)
_FOREIGN_KEY_VIOLATION = "23503"
_MISSING_COLUMNS: dict[tuple[str, str], tuple[str, ...]] = {}
T = TypeVar("T")


class _Repository(Generic[ModelT]):
    model: type[ModelT]
    record: type[BaseModel]
    order_by: str = "id"
    lacking: str = "a row it refers to is not stored"
    """What a foreign key the database refuses means here, and what to do."""

    def __init__(self, session: Session | AsyncSession) -> None:
        self.session = session

    def _run(self, work: Callable[[Session], T]) -> Any:
        """Run `work` on the sync session, or return an awaitable for an AsyncSession."""
        if isinstance(self.session, AsyncSession):
            return self.session.run_sync(work)
        return work(self.session)

    def _to_row(self, data: BaseModel | Mapping[str, Any], **extra: Any) -> dict[str, Any]:
        record = data if isinstance(data, self.record) else validated(self.record, data)
        # Unset (None) fields are left out: server defaults apply, and the kit's nullable
        # additions (flow_id...) stay out of INSERTs into a database made by the contract's DDL.
        row = record.model_dump(exclude_none=True)
        row.update({k: v for k, v in extra.items() if v is not None})
        return row

    def _with_defaults(self, row: Mapping[str, Any]) -> Mapping[str, Any]:
        """A trusted row (`bulk_insert(validate=False)`) with the columns' fixed defaults that
        the INSERT would fill in: the rollups must count the row as it is stored."""
        absent = {name: value for name, value in _fixed_defaults(self.model) if name not in row}
        return {**row, **absent} if absent else row

    def _adding(self, session: Session, rows: list[Mapping[str, Any]]) -> None:
        """Before an insert of `rows`: the users they name, added in the kit's own database
        (executions and usage rows also begin the rollups' write: `_added` reaches them)."""
        if "user_id" in table_of(self.model).c:
            users = {row["user_id"] for row in rows if row.get("user_id") is not None}
            add_missing_users(session.connection(), users)

    def _added(self, session: Session, rows: list[Mapping[str, Any]]) -> None:
        """Rows just inserted, in the session's transaction (executions and usage rows add
        to the rollups)."""

    def _missing_columns(self, session: Session) -> tuple[str, ...]:
        """Mapped columns the attached database lacks (the kit's additions, on an AgentOS one)."""
        bind = session.get_bind()
        key = (bind.engine.url.render_as_string(hide_password=False), self.model.__tablename__)
        if key not in _MISSING_COLUMNS:
            present = {c["name"] for c in inspect(session.connection()).get_columns(key[1])}
            _MISSING_COLUMNS[key] = tuple(
                c.name for c in table_of(self.model).columns if c.name not in present
            )
        return _MISSING_COLUMNS[key]

    def _present(self, session: Session, row: dict[str, Any]) -> dict[str, Any]:
        """The row without the columns the database lacks, saying which values are not stored
        (a usage's price provenance, on a database made by the data contract's DDL)."""
        missing = set(self._missing_columns(session))
        say_not_stored(session.connection(), self.model.__tablename__, missing.intersection(row))
        return {name: value for name, value in row.items() if name not in missing}

    def _load_options(self, session: Session) -> list[Any]:
        return [defer(getattr(self.model, name)) for name in self._missing_columns(session)]

    def _create(self, data: BaseModel | Mapping[str, Any], commit: bool, **extra: Any) -> Any:
        row = self._to_row(data, **extra)

        def work(session: Session) -> ModelT | None:
            # A Core INSERT names only the given columns; the ORM would name every mapped one.
            self._adding(session, [row])
            table = table_of(self.model)
            values = as_referenced(session.connection(), table, self._present(session, row))
            with self._refusals(session):
                session.execute(table.insert().values(**values))
            self._added(session, [row])
            if commit:
                session.commit()
            return self._returned(session, row["id"])

        return self._run(work)

    @contextmanager
    def _refusals(self, session: Session) -> Iterator[None]:
        """A row the database refuses as one InvalidInputError without the SQL and its values,
        a missing reference saying which (`lacking`); the session is rolled back."""
        try:
            yield
        except IntegrityError as error:
            session.rollback()
            explained = explain_database_error(error)
            original = error.orig if error.orig is not None else error
            # PostgreSQL gives the SQL state; SQLite only says so in its message
            missing = getattr(original, "sqlstate", None) == _FOREIGN_KEY_VIOLATION
            if missing or "FOREIGN KEY" in str(original):
                raise InvalidInputError(f"{explained}: {self.lacking}") from None
            raise explained from None

    def _returned(self, session: Session, key: uuid.UUID) -> ModelT | None:
        """The stored row, loaded, the columns the database lacks set to None. It stays in the
        session, unless a later commit would expire it into a reload that fails: one naming
        those columns, or one on an AsyncSession, which would need an await the caller cannot
        give. Then it is returned detached, complete."""
        found = session.get(self.model, key, options=self._load_options(session))
        if found is None:
            return None
        missing = self._missing_columns(session)
        for name in missing:
            set_committed_value(found, name, None)
        if missing or (isinstance(self.session, AsyncSession) and session.expire_on_commit):
            session.expunge(found)
        return found

    def get(self, id: uuid.UUID | str) -> Any:
        """The row with this id, or None."""
        key = id if isinstance(id, uuid.UUID) else uuid.UUID(str(id))
        return self._run(
            lambda session: session.get(self.model, key, options=self._load_options(session))
        )

    def list(self, *, limit: int = 100, offset: int = 0, **equals: Any) -> Any:
        """Rows whose columns equal the given values, in a stable order."""
        columns = table_of(self.model).c
        unknown = [name for name in equals if name not in columns]
        if unknown:
            raise ValueError(f"{self.model.__tablename__} has no column {unknown[0]!r}")
        query = select(self.model)
        for name, value in equals.items():
            query = query.where(columns[name] == value)
        query = query.order_by(columns[self.order_by]).limit(limit).offset(offset)
        return self._run(
            lambda session: list(session.scalars(query.options(*self._load_options(session))))
        )

    def bulk_insert(
        self, rows: Iterable[BaseModel | Mapping[str, Any]], *, validate: bool = True
    ) -> Any:
        """Insert many rows in one transaction; returns how many. `validate=False` trusts dicts."""
        # validate=False is the caller's word that the rows are column dicts already
        trusted = cast(Iterable[Mapping[str, Any]], rows)
        if validate:
            prepared: Iterable[Mapping[str, Any]] = (self._to_row(r) for r in rows)
        else:
            prepared = map(self._with_defaults, trusted)

        def work(session: Session) -> int:
            written = list(prepared)
            self._adding(session, written)
            table = table_of(self.model)
            stored = with_references(session.connection(), table, written)
            with self._refusals(session):
                count = bulk_insert_rows(session.connection(), table, stored)
            self._added(session, written)
            session.commit()
            return count

        return self._run(work)


@cache
def _fixed_defaults(model: type[Base]) -> tuple[tuple[str, Any], ...]:
    """(column, value) of the model's columns whose default is a fixed value (0, not a clock)."""
    return tuple(
        (column.name, column.default.arg)
        for column in table_of(model).columns
        if isinstance(column.default, ColumnDefault) and column.default.is_scalar
    )


class AgentExecutionRepository(_Repository[AgentExecution]):
    """Executions: create one, get one, list, bulk insert."""

    model = AgentExecution
    record = AgentExecutionCreate
    order_by = "started_at"
    lacking = (
        "its user_id is not in this database's users table; add the user there first (a "
        "database made by the data contract's DDL adds none by itself)"
    )

    def create(
        self,
        data: AgentExecutionCreate | Mapping[str, Any],
        user_id: uuid.UUID | str | None = None,
        *,
        commit: bool = True,
    ) -> Any:
        """Record an execution; `user_id` is passed apart, as in the data contract's example."""
        owner = uuid.UUID(str(user_id)) if user_id is not None else None
        return self._create(data, commit, user_id=owner)

    def _to_row(self, data: BaseModel | Mapping[str, Any], **extra: Any) -> dict[str, Any]:
        return with_finished_times(super()._to_row(data, **extra))

    def _with_defaults(self, row: Mapping[str, Any]) -> Mapping[str, Any]:
        return with_finished_times(super()._with_defaults(row))

    def _adding(self, session: Session, rows: list[Mapping[str, Any]]) -> None:
        super()._adding(session, rows)
        begin_writing(session.connection())

    def _added(self, session: Session, rows: list[Mapping[str, Any]]) -> None:
        record_rollups(session.connection(), rows)


class ExecutionTraceRepository(_Repository[ExecutionTrace]):
    """ReAct trace steps."""

    model = ExecutionTrace
    record = ExecutionTraceCreate
    order_by = "step_number"
    lacking = "its execution_id is not a stored execution; record the execution first"

    def create(self, data: ExecutionTraceCreate | Mapping[str, Any], *, commit: bool = True) -> Any:
        """Record one trace step."""
        return self._create(data, commit)


class TokenUsageRepository(_Repository[TokenUsage]):
    """Token usage by component."""

    model = TokenUsage
    record = TokenUsageCreate
    order_by = "step_number"
    lacking = "its execution_id is not a stored execution; record the execution first"

    def create(self, data: TokenUsageCreate | Mapping[str, Any], *, commit: bool = True) -> Any:
        """Record one component's token usage."""
        return self._create(data, commit)

    def _adding(self, session: Session, rows: list[Mapping[str, Any]]) -> None:
        begin_writing(session.connection())

    def _added(self, session: Session, rows: list[Mapping[str, Any]]) -> None:
        record_rollups(session.connection(), attached=rows)


class BudgetAlertRepository(_Repository[BudgetAlert]):
    """Budget alert definitions."""

    model = BudgetAlert
    record = BudgetAlertCreate
    lacking = "its user_id is not in this database's users table; add the user there first"

    def create(self, data: BudgetAlertCreate | Mapping[str, Any], *, commit: bool = True) -> Any:
        """Store one budget alert."""
        return self._create(data, commit)
