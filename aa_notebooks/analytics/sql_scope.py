"""User scope for ad hoc SQL: every read of the contract's tables becomes a read of one user's rows.

The rewrite works on sqlglot's tree. Each reference to a real table is replaced by a subquery
that keeps only the user's rows, under the name the query used; the user id is a bound
parameter. Every CTE is renamed first (`aa_cte_N`), so a CTE that shadows a table name can
neither hide a table from the rewrite nor stand in for the table the filters read. The walk goes
into every node, a table's too: sqlglot nests the join of `FROM (a JOIN b ...)` in a's node, and
a table function's arguments may read tables. Any other table, a catalog, or another schema is
refused.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from aa_notebooks.analytics.sql_gate import CheckedQuery, SqlDialect
from aa_notebooks.errors import RefusedQueryError

USER_PARAMETER = "aa_scope_user_id"
USER_TEXT_PARAMETER = "aa_scope_user_text"
"""SQLite: the user's id as text with dashes, the form another program may have stored."""
SCOPED_TABLES = ("agentexecutions", "executiontraces", "tokenusages", "budgetalerts", "users")
# Schemas the data contract's tables may be named with, besides the one they are in.
_SCHEMAS = {"postgres": ("public",), "sqlite": ("main",)}
# Functions that read the schema, other sessions or raw pages rather than a user's rows.
_CATALOG_FUNCTION_PREFIXES = {"postgres": ("pg_",), "sqlite": ("pragma_", "sqlite_")}
# Built-in pg_ functions that read nothing (the gate bounds pg_sleep).
_HARMLESS_PG_FUNCTIONS = frozenset({"pg_sleep", "pg_typeof", "pg_column_size"})

Filter = Callable[[exp.Table, SqlDialect], exp.Condition]


def _scope_tail() -> str:
    return f"a user-scoped session reads only {', '.join(SCOPED_TABLES)}"


def _refused(what: str) -> RefusedQueryError:
    return RefusedQueryError(f"refused: {what}; {_scope_tail()}, as that user's rows")


def scope_to_user(query: CheckedQuery, schema: str | None = None) -> exp.Expression:
    """The query's tree rewritten to read only the scoped user's rows (bound as
    `:aa_scope_user_id`); refuses references past the scope. `schema` is the one the tables
    are in (PostgreSQL's current schema, `agents` when the URL's options put them there): a
    table may be named with it, or with the default one."""
    if isinstance(query.tree, exp.Pragma):
        raise _refused("PRAGMA reads the schema")
    tree = query.tree.copy()
    if reads_user(tree):
        raise RefusedQueryError(
            f"refused: :{USER_PARAMETER} and :{USER_TEXT_PARAMETER} are reserved for the user scope"
        )
    _refuse_catalog_functions(tree, query.dialect)
    schemas = (*_SCHEMAS[query.dialect], *([schema] if schema else []))
    tables = _resolve(tree, query.dialect, schemas)
    for table in tables:
        _replace_with_scoped_rows(table, query.dialect)
    _unqualify_columns(tree, query.dialect, schemas)
    return tree


def reads_user(tree: exp.Expression) -> bool:
    """Whether a scoped tree uses the user id parameters (it reads a document table)."""
    return bool(user_parameters(tree))


def user_parameters(tree: exp.Expression) -> set[str]:
    """The user id parameters a scoped tree uses (`USER_PARAMETER`, on SQLite the text one)."""
    names = {USER_PARAMETER, USER_TEXT_PARAMETER}
    return {node.name for node in tree.find_all(exp.Placeholder) if node.name in names}


def _normalize(identifier: exp.Identifier | str | None, dialect: SqlDialect) -> str:
    """An identifier as the database compares it: SQLite ignores case; PostgreSQL folds
    unquoted names to lower case and keeps quoted ones as written."""
    if identifier is None:
        return ""
    if isinstance(identifier, str):
        return identifier.lower()
    if dialect == "postgres" and identifier.quoted:
        return identifier.name
    return identifier.name.lower()


def _refuse_catalog_functions(tree: exp.Expression, dialect: SqlDialect) -> None:
    for node in tree.find_all(exp.Anonymous):
        name = node.name.lower()
        if name.startswith(_CATALOG_FUNCTION_PREFIXES[dialect]) and (
            name not in _HARMLESS_PG_FUNCTIONS
        ):
            raise _refused(f"{name}() reads the catalog or the server, not a user's rows")
    if dialect == "sqlite":  # `x IN tablename` reads a table that no FROM names
        for membership in tree.find_all(exp.In):
            if membership.args.get("field") is not None:
                raise _refused("`x IN table` reads a table directly; write x IN (SELECT ...)")


def _resolve(
    tree: exp.Expression, dialect: SqlDialect, schemas: tuple[str, ...]
) -> list[exp.Table]:
    """Rename every CTE and the references to it; return the references to real tables."""
    real: list[exp.Table] = []
    counter = iter(range(1, 1_000_000))

    def visit(node: exp.Expression, visible: dict[str, str]) -> None:
        if isinstance(node, exp.Table):
            _resolve_table(node, visible, dialect, schemas, real)
            # and what a table node holds: `FROM (a JOIN b)` nests b's join in a's node, and a
            # table-valued function's arguments may read tables too
        with_ = next((v for v in node.args.values() if isinstance(v, exp.With)), None)
        inner = visible
        if with_ is not None:
            inner = _visit_ctes(with_, visible)
        for name, value in node.args.items():
            if value is with_ or (isinstance(node, exp.Table) and name in _NOT_READ):
                continue
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, exp.Expression):
                    visit(child, inner)

    def _visit_ctes(with_: exp.With, visible: dict[str, str]) -> dict[str, str]:
        ctes: list[exp.CTE] = list(with_.expressions)
        names = {}
        for cte in ctes:
            names[_normalize(cte.args["alias"].this, dialect)] = f"aa_cte_{next(counter)}"
        # PostgreSQL: a CTE sees the ones before it (all of them WITH RECURSIVE, itself too);
        # SQLite lets every CTE of the clause see every other one.
        every = dialect == "sqlite" or bool(with_.args.get("recursive"))
        seen = dict(visible)
        for cte in ctes:
            own = _normalize(cte.args["alias"].this, dialect)
            scope = {**visible, **names} if every else dict(seen)
            visit(cte.this, scope)
            seen[own] = names[own]
            cte.args["alias"].set("this", exp.to_identifier(names[own]))
        return {**visible, **names}

    visit(tree, {})
    return real


_NOT_READ = frozenset({"indexed"})
"""What a table node holds that names no table it reads (SQLite's INDEXED BY names an index)."""


def _resolve_table(
    table: exp.Table,
    visible: dict[str, str],
    dialect: SqlDialect,
    schemas: tuple[str, ...],
    real: list[exp.Table],
) -> None:
    if not isinstance(table.this, exp.Identifier):
        return  # a table-valued function: the catalog ones were refused above
    if table.args.get("catalog") is not None:
        raise _refused(f"{table.sql(dialect)} names another database")
    name = _normalize(table.this, dialect)
    schema = table.args.get("db")
    if schema is None and name in visible:
        if table.alias == "":
            table.set("alias", exp.TableAlias(this=table.this.copy()))
        table.set("this", exp.to_identifier(visible[name]))
        return
    if name not in SCOPED_TABLES:
        raise _refused(f"{table.sql(dialect)} is outside the user scope")
    if schema is not None and _normalize(schema, dialect) not in schemas:
        raise _refused(f"{table.sql(dialect)} is in another schema")
    real.append(table)


def _unqualify_columns(tree: exp.Expression, dialect: SqlDialect, schemas: tuple[str, ...]) -> None:
    """`public.agentexecutions.id` becomes `agentexecutions.id`: the scoped rows carry the
    table's name as their alias, and an alias has no schema."""
    for column in tree.find_all(exp.Column):
        schema = column.args.get("db")
        if schema is None or _normalize(column.args.get("table"), dialect) not in SCOPED_TABLES:
            continue
        if _normalize(schema, dialect) in schemas:
            column.set("db", None)
            column.set("catalog", None)


def _user_is(column: str, dialect: SqlDialect) -> exp.Condition:
    """`column = :user`; on SQLite, where ids are text, also the id with dashes and both in
    upper case, as another program may have stored it (the kit binds 32 hex digits)."""
    user = exp.Placeholder(this=USER_PARAMETER)
    if dialect == "sqlite":
        dashed = exp.Placeholder(this=USER_TEXT_PARAMETER)
        forms = (user, dashed, exp.Upper(this=user.copy()), exp.Upper(this=dashed.copy()))
        return exp.column(column).isin(*forms)
    return exp.column(column).eq(user)


def _owned_executions(table: exp.Table, dialect: SqlDialect) -> exp.Select:
    """`SELECT id FROM agentexecutions WHERE user_id = :user`, in the table's own schema."""
    executions = exp.Table(this=exp.to_identifier("agentexecutions"), db=table.args.get("db"))
    return exp.select("id").from_(executions).where(_user_is("user_id", dialect))


_FILTERS: dict[str, Filter] = {
    "agentexecutions": lambda _, dialect: _user_is("user_id", dialect),
    "budgetalerts": lambda _, dialect: _user_is("user_id", dialect),
    "users": lambda _, dialect: _user_is("id", dialect),
    "executiontraces": lambda t, dialect: exp.column("execution_id").isin(
        query=_owned_executions(t, dialect)
    ),
    "tokenusages": lambda t, dialect: exp.column("execution_id").isin(
        query=_owned_executions(t, dialect)
    ),
}


def _replace_with_scoped_rows(table: exp.Table, dialect: SqlDialect) -> None:
    """`t AS a` becomes `(SELECT * FROM t WHERE <the user's rows>) AS a`; without an alias the
    table's own name is the alias, so `t.column` still resolves. Joins nested in the table's
    node (`FROM (t AS a JOIN u ...)`) go with it."""
    name = _normalize(table.this, dialect)
    alias = table.args.get("alias") or exp.TableAlias(this=table.this.copy())
    source = exp.Table(this=table.this.copy(), db=table.args.get("db"))
    if sample := table.args.get("sample"):  # TABLESAMPLE samples the table, not the subquery
        source.set("sample", sample)
    rows = exp.select("*").from_(source).where(_FILTERS[name](table, dialect))
    scoped = exp.Subquery(this=rows, alias=alias.copy())
    for carried in _CARRIED:
        if value := table.args.get(carried):
            scoped.set(carried, value)
    table.replace(scoped)


_CARRIED = ("joins", "laterals", "pivots")
"""What a table node may hold besides its name that a subquery in its place holds too."""
