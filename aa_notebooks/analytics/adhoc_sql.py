"""`sql`: a user's own read-only query (the `%%agent_analytics sql` cell), with bound parameters.

Three lines stand between a query and the data. The parser gate (`sql_gate`) lets through one
plain SELECT and nothing else; a scoped client's query is rewritten to that user's rows
(`sql_scope`); and the database itself runs the rendered statement on a dedicated connection,
discarded afterwards, that can only read (`sql_guards`): SQLite with `query_only` and an
authorizer, PostgreSQL in a READ ONLY transaction with a statement timeout, as a prepared
statement (which refuses a second statement).
"""

from __future__ import annotations

import re
import uuid
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import (
    BindParameter,
    Connection,
    Engine,
    String,
    TextClause,
    Uuid,
    bindparam,
    func,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError, StatementError

from aa_notebooks.analytics.source import Source
from aa_notebooks.db.engine import connection_errors, explain_connection_error
from aa_notebooks.db.users import is_kit_database
from aa_notebooks.errors import InvalidInputError, first_line

if TYPE_CHECKING:
    from aa_notebooks.analytics.sql_gate import CheckedQuery, SqlDialect

# sqlglot takes about a tenth of a second to import, and only `sql` needs it: the gate,
# scope and guard modules are imported when a query runs, not with the analytics package.

_TIMEOUT_MARKERS = ("interrupted", "statement timeout")


def run_sql(source: Source, query: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """The rows of one read-only SELECT as a DataFrame; `:name` placeholders take `params`.

    Refused before it runs (RefusedQueryError) unless it passes the gate; scoped to the
    client's user when it has one.
    """
    from aa_notebooks.analytics.sql_gate import check_query
    from aa_notebooks.analytics.sql_guards import (
        refuse_catalog_functions,
        timed_out,
        timeout_seconds,
    )
    from aa_notebooks.analytics.sql_scope import USER_PARAMETER, USER_TEXT_PARAMETER

    dialect: SqlDialect = "sqlite" if source.dialect.name == "sqlite" else "postgres"
    checked = check_query(query, dialect)
    for reserved in (USER_PARAMETER, USER_TEXT_PARAMETER):
        if params and reserved in params:
            raise InvalidInputError(f"the parameter name {reserved!r} is reserved; rename it")
    statement = _statement(checked, source.whole("ad hoc SQL"))
    values = dict(params or {})
    if dialect == "sqlite":
        values = _as_stored_ids(source, values)
    seconds = timeout_seconds()
    scoped = source.user_id is not None
    with read_only_connection(source, scoped=scoped, seconds=seconds) as connection:
        try:
            if dialect == "postgres":
                refuse_catalog_functions(
                    connection, checked.functions, checked.fields, scoped=scoped
                )
            result = connection.execute(statement, values)
            if not result.returns_rows:
                raise InvalidInputError("the query returned no rows: only SELECT runs here")
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise explain_connection_error(exc, source.engine.url) from None
            message = first_line(exc.orig)
            if any(marker in message for marker in _TIMEOUT_MARKERS):
                raise timed_out(seconds) from None
            raise InvalidInputError(f"the query failed: {message}") from None
        except StatementError as exc:
            if unbound := _UNBOUND.search(str(exc.orig or exc)):
                raise _no_value_for(unbound.group(1)) from None
            raise InvalidInputError(f"the query failed: {exc.orig or exc}") from None


def _as_stored_ids(source: Source, params: dict[str, Any]) -> dict[str, Any]:
    """On SQLite, whose driver takes no UUID object, UUID parameters as the text the database
    holds ids in: the kit's 32 hex digits in its own database, else the dashed form another
    program most often writes. Text is left as it is: it may be meant for a text column. Read
    before the query's guarded connection, whose authorizer may refuse the catalog."""
    ids = {name: value for name, value in params.items() if isinstance(value, uuid.UUID)}
    if not ids:
        return params
    with connection_errors(source.engine.url), source.engine.connect() as connection:
        kits = is_kit_database(connection)
    return {**params, **{name: id.hex if kits else str(id) for name, id in ids.items()}}


_UNBOUND = re.compile(r"A value is required for bind parameter '([^']+)'")


def _no_value_for(name: str) -> InvalidInputError:
    """The error for a `:name` in the query that no parameter fills."""
    return InvalidInputError(
        f"the query names the parameter :{name}, which has no value here; write it as {{{name}}} "
        f"and define {name} in the notebook, or pass --param {name}=VALUE on the command line "
        f"(from Python: params={{{name!r}: ...}})"
    )


def _statement(checked: CheckedQuery, source: Source) -> TextClause:
    """The SQL to run: the checked tree, rewritten to the user's rows when scoped."""
    from aa_notebooks.analytics.sql_gate import refused
    from aa_notebooks.analytics.sql_scope import (
        USER_PARAMETER,
        USER_TEXT_PARAMETER,
        scope_to_user,
        user_parameters,
    )

    if source.user_id is None:
        return text(checked.render())
    try:
        tree = scope_to_user(checked, _tables_schema(source))
    except RecursionError:
        raise refused("the query is nested too deeply to check") from None
    scoped = text(checked.render(tree))
    used = user_parameters(tree)  # none: the query reads no table (VALUES, a CTE of numbers...)
    values: list[BindParameter[Any]] = [
        bindparam(USER_PARAMETER, value=source.user_id, type_=Uuid()),
        bindparam(USER_TEXT_PARAMETER, value=str(source.user_id), type_=String()),
    ]
    return scoped.bindparams(*(value for value in values if value.key in used))


def _tables_schema(source: Source) -> str | None:
    """PostgreSQL: the schema the query's unqualified tables are in (the first of the
    search_path that exists), read once per engine on an ordinary connection; SQLite: None."""
    if source.dialect.name != "postgresql":
        return None
    engine = source.engine
    if engine not in _schemas:
        with connection_errors(engine.url), engine.connect() as connection:
            _schemas[engine] = connection.execute(select(func.current_schema())).scalar()
    return _schemas[engine]


_schemas: weakref.WeakKeyDictionary[Engine, str | None] = weakref.WeakKeyDictionary()


@contextmanager
def read_only_connection(source: Source, *, scoped: bool, seconds: float) -> Iterator[Connection]:
    """A dedicated connection that can only read, closed and discarded afterwards."""
    from aa_notebooks.analytics.sql_guards import guard_postgres, guard_sqlite, release_sqlite

    sqlite = source.dialect.name == "sqlite"
    with connection_errors(source.engine.url):
        connection = source.engine.connect()
    driver: Any = connection.connection.driver_connection
    try:
        with connection_errors(source.engine.url):
            if sqlite:
                guard_sqlite(driver, scoped=scoped, seconds=seconds)
            else:
                driver.prepare_threshold = 0
                connection = connection.execution_options(postgresql_readonly=True)
                guard_postgres(connection, seconds=seconds)
        yield connection
    finally:
        if sqlite:
            release_sqlite(driver)
        connection.invalidate()  # never hand this connection back to the pool
        connection.close()
