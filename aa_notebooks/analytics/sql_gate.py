"""The gate every ad hoc query passes before it reaches the database: one plain SELECT.

The query is parsed with sqlglot in the connection's dialect. What passes is one SELECT (WITH,
UNION/INTERSECT/EXCEPT and VALUES included) that changes nothing, takes no lock, and calls no
function with effects outside the transaction; on SQLite also a few read-only PRAGMAs. What
the database then runs is the statement rendered back from the parsed tree (without comments),
so it cannot mean something other than what was checked.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import sqlglot
from sqlglot import TokenType, exp
from sqlglot.errors import ParseError, TokenError

from aa_notebooks.errors import InvalidInputError, RefusedQueryError, first_line

SqlDialect = Literal["postgres", "sqlite"]

ONLY_SELECT = "only one SELECT runs here"
PARAMETER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# PRAGMAs that only describe the schema; never with a value (`PRAGMA name = value` writes).
READ_ONLY_PRAGMAS = frozenset(
    {
        "table_info",
        "table_xinfo",
        "table_list",
        "index_list",
        "index_info",
        "index_xinfo",
        "foreign_key_list",
    }
)
MAX_SLEEP_SECONDS = 5

# Statement kinds refused wherever they appear (a data-modifying CTE is an Insert/Update/...).
_REFUSED_NODES: tuple[tuple[type[exp.Expression], str], ...] = (
    (exp.Copy, "COPY reads or writes files and programs outside the database"),
    (exp.Insert, "INSERT changes data"),
    (exp.Update, "UPDATE changes data"),
    (exp.Delete, "DELETE changes data"),
    (exp.Merge, "MERGE changes data"),
    (exp.TruncateTable, "TRUNCATE changes data"),
    (exp.Into, "SELECT ... INTO creates a table"),
    (exp.Lock, "FOR UPDATE/FOR SHARE takes row locks"),
    (exp.Attach, "ATTACH opens (or creates) another database file"),
    (exp.Detach, "DETACH changes the connection's databases"),
    (exp.Pragma, "PRAGMA inside a query is not allowed"),
    (exp.Set, "SET changes session settings"),
    (exp.Create, "CREATE changes the schema"),
    (exp.Drop, "DROP changes the schema"),
    (exp.Alter, "ALTER changes the schema"),
    (exp.Comment, "COMMENT changes the schema"),
    (exp.Grant, "GRANT changes privileges"),
    (exp.Revoke, "REVOKE changes privileges"),
    (exp.Transaction, "BEGIN controls the transaction"),
    (exp.Commit, "COMMIT controls the transaction"),
    (exp.Rollback, "ROLLBACK controls the transaction"),
    (exp.Analyze, "ANALYZE writes statistics"),
    (exp.Kill, "KILL stops other sessions"),
    (exp.Execute, "EXECUTE runs another statement"),
    (exp.Use, "USE changes the database"),
)

# What a `Command` (a statement sqlglot only knows by its first word) would have done.
_COMMANDS = {
    "VACUUM": "VACUUM rewrites the database (VACUUM INTO writes a copy to a file)",
    "EXPLAIN": "EXPLAIN ANALYZE runs the statement it explains",
    "DO": "DO runs procedural code",
    "CALL": "CALL runs a procedure",
    "REINDEX": "REINDEX rewrites indexes",
    "NOTIFY": "NOTIFY signals other sessions",
    "LISTEN": "LISTEN changes the session",
    "PREPARE": "PREPARE stores a statement in the session",
    "SHOW": "SHOW is not a SELECT (use current_setting())",
}

_POSTGRES_FUNCTIONS: tuple[tuple[str, str], ...] = (
    (r"pg_read_(binary_)?file|pg_ls_\w+|pg_stat_file", "reads files on the database server"),
    (r"pg_file_\w+", "writes files on the database server"),
    (r"lo_\w+|loread|lowrite", "reads or writes large objects and server files"),
    (r"dblink\w*", "opens a connection to a database, outside this transaction"),
    (r"pg_(terminate|cancel)_backend", "stops other sessions"),
    (r"pg_reload_conf|pg_rotate_logfile\w*", "changes the server's configuration or logs"),
    (r"set_config", "changes session settings"),
    (r"pg_(try_)?advisory_\w+", "takes advisory locks, which outlive the query"),
    (r"nextval|setval|currval|lastval", "moves sequences, which no transaction rolls back"),
    (r"pg_notify", "signals other sessions"),
    (r"\w*_to_xml\w*", "runs a query, or reads a table by name, past these checks"),
    (r"ts_stat|ts_rewrite", "runs a query given as text, past these checks"),
    (r"pg_sleep_for|pg_sleep_until", f"sleeps; pg_sleep(n) with n <= {MAX_SLEEP_SECONDS} runs"),
    (
        r"pg_(create|drop|copy)_\w*replication_slot|pg_replication_\w+|pg_logical_\w+"
        r"|pg_switch_wal|pg_(start|stop)_backup|pg_backup_(start|stop)"
        r"|pg_create_restore_point|pg_promote|pg_wal_replay_\w+|pg_log_standby_snapshot",
        "controls replication, WAL or backups",
    ),
    (r"pg_stat_reset\w*|pg_import_system_collations|pg_log_backend_memory_contexts",
     "changes server state"),
)  # fmt: skip
_SQLITE_FUNCTIONS: tuple[tuple[str, str], ...] = (
    (r"load_extension", "loads native code into the database"),
    (r"readfile|fsdir|lsdir|zipfile", "reads files from disk"),
    (r"writefile|edit", "writes files on disk"),
    (r"fts3_tokenizer", "registers native code with the database"),
    (r"eval", "runs SQL given as text, past these checks"),
)


@dataclass(frozen=True)
class CheckedQuery:
    """A query that passed the gate: its parsed tree, the names of the functions it calls, and
    the names it uses as `row.name` (which PostgreSQL may run as a function of the row)."""

    tree: exp.Expression
    dialect: SqlDialect
    functions: frozenset[str] = frozenset()
    fields: frozenset[str] = frozenset()

    def render(self, tree: exp.Expression | None = None) -> str:
        """The SQL the database runs: `tree` (default this query's) rendered without comments,
        with `:name` bind markers."""
        return render(tree if tree is not None else self.tree, self.dialect)


def refused(what: str) -> RefusedQueryError:
    """The one-line refusal: what was refused and what runs here."""
    return RefusedQueryError(f"refused: {what}; {ONLY_SELECT}")


def check_query(query: str, dialect: SqlDialect) -> CheckedQuery:
    """The query parsed and checked, or a RefusedQueryError naming what it would have done."""
    if not query or not query.strip():
        raise InvalidInputError("the query is empty: write one SELECT")
    try:
        return _check(query, dialect)
    except RecursionError:
        raise refused("the query is nested too deeply to check") from None


def _check(query: str, dialect: SqlDialect) -> CheckedQuery:
    statements = _parse(query, dialect)
    if len(statements) != 1:
        raise refused(f"{len(statements)} statements were given")
    tree = statements[0]
    if isinstance(tree, exp.Pragma):
        _check_pragma(tree, query, dialect)
        return CheckedQuery(tree, dialect)
    _check_statement(tree)
    functions = _check_functions(tree, dialect)
    if dialect == "sqlite":
        _check_pragma_tables(tree)
    _check_parameters(tree, dialect)
    fields = frozenset(column.name.lower() for column in tree.find_all(exp.Column) if column.table)
    return CheckedQuery(tree, dialect, functions, fields)


def render(tree: exp.Expression, dialect: SqlDialect) -> str:
    """SQL text for a checked tree, for SQLAlchemy's `text()`: comments dropped, function names
    as written, placeholders as `:name`, and a colon inside a string escaped (`\\:`) so that
    text such as 'at :noon' stays text."""
    if isinstance(tree, exp.Pragma):
        return _render_pragma(tree)
    return tree.transform(_for_text).sql(dialect=dialect, comments=False, normalize_functions=False)


def _for_text(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Placeholder):
        return exp.var(f":{node.name}")
    if isinstance(node, exp.Literal) and node.is_string and ":" in node.this:
        return exp.Literal.string(node.this.replace(":", "\\:"))
    return node


def called_names(node: exp.Func) -> set[str]:
    """The lowercase names a function node may be called by (as written and as sqlglot knows
    it), so a deny list matches however the function was spelled."""
    names = {name.lower() for name in node.sql_names()}
    if isinstance(node, exp.Anonymous):
        names.add(node.name.lower())
    return names


@contextmanager
def _quiet_parser() -> Iterator[None]:
    """sqlglot logs a warning when it falls back to a `Command`; that is a refusal here, and the
    refusal says so, so the log line would only be noise in a notebook."""
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _parse(query: str, dialect: SqlDialect) -> list[exp.Expression]:
    try:
        with _quiet_parser():
            parsed = sqlglot.parse(query, read=dialect)
    except ParseError as exc:
        raise refused(f"the query could not be parsed as SQL ({_where(exc)})") from None
    except TokenError as exc:
        raise refused(f"the query could not be parsed as SQL ({first_line(exc)})") from None
    statements = [statement for statement in parsed if isinstance(statement, exp.Expression)]
    if not statements:
        raise InvalidInputError("the query is empty: write one SELECT")
    return statements


def _where(error: ParseError) -> str:
    """Where and what the parser stumbled on, without sqlglot's class names."""
    if not error.errors:
        return first_line(error)
    first = error.errors[0]
    description = re.sub(r"<class '[\w.]*?(\w+)'>", r"\1", str(first.get("description", "")))
    return f"line {first.get('line')}, column {first.get('col')}: {description}"


def _check_statement(tree: exp.Expression) -> None:
    if isinstance(tree, exp.Command):
        keyword = str(tree.this).upper()
        raise refused(_COMMANDS.get(keyword, f"{keyword} is not a SELECT"))
    for node in tree.walk():
        for kind, reason in _REFUSED_NODES:
            if isinstance(node, kind):
                raise refused(reason)
        if isinstance(node, exp.Command):
            raise refused(f"{str(node.this).upper()} inside a query is not a SELECT")
    if not isinstance(tree, exp.Select | exp.SetOperation | exp.Subquery | exp.Values):
        raise refused(f"{_describe(tree)} is not a SELECT")


def _describe(tree: exp.Expression) -> str:
    return first_line(tree.sql(comments=False))[:60] or type(tree).__name__


def _check_functions(tree: exp.Expression, dialect: SqlDialect) -> frozenset[str]:
    rules = _POSTGRES_FUNCTIONS if dialect == "postgres" else _SQLITE_FUNCTIONS
    seen: set[str] = set()
    for node in tree.find_all(exp.Func):
        names = called_names(node)
        seen |= names
        for name in names:
            for pattern, reason in rules:
                if re.fullmatch(pattern, name):
                    raise refused(f"{name}() {reason}")
            if name == "pg_sleep" and dialect == "postgres":
                _check_sleep(node)
    return frozenset(seen)


def _check_sleep(node: exp.Func) -> None:
    arguments = node.expressions or [node.this]
    argument = arguments[0] if len(arguments) == 1 else None
    try:
        seconds = float(argument.this) if isinstance(argument, exp.Literal) else None
    except ValueError:
        seconds = None
    if seconds is None or seconds > MAX_SLEEP_SECONDS:
        raise refused(f"pg_sleep() longer than {MAX_SLEEP_SECONDS} s (or not a plain number)")


def _check_parameters(tree: exp.Expression, dialect: SqlDialect) -> None:
    for node in tree.find_all(exp.Placeholder, exp.Parameter):
        name = node.this if isinstance(node, exp.Placeholder) else None
        if not isinstance(name, str) or not PARAMETER.fullmatch(name):
            raise RefusedQueryError(
                f"refused: the placeholder {node.sql(dialect)} is not supported; name parameters "
                "like :status (or {status} in the notebook cell)"
            )


def _check_pragma_tables(tree: exp.Expression) -> None:
    """SQLite's `pragma_NAME` table-valued functions run the PRAGMA: the same short list."""
    for node in tree.find_all(exp.Table, exp.Anonymous):
        name = node.name.lower()
        if name.startswith("pragma_") and name.removeprefix("pragma_") not in READ_ONLY_PRAGMAS:
            raise RefusedQueryError(
                f"refused: {name} runs PRAGMA {name.removeprefix('pragma_')}; {ONLY_SELECT}, "
                f"reading only {', '.join(f'pragma_{p}' for p in sorted(READ_ONLY_PRAGMAS))}"
            )


def _check_pragma(tree: exp.Pragma, query: str, dialect: SqlDialect) -> None:
    if dialect != "sqlite":
        raise refused("PRAGMA is not a SELECT")
    name = _pragma_name(tree)
    if name not in READ_ONLY_PRAGMAS:
        allowed = ", ".join(sorted(READ_ONLY_PRAGMAS))
        raise RefusedQueryError(
            f"refused: PRAGMA {name} can change the database; {ONLY_SELECT}, or one of the "
            f"read-only PRAGMAs {allowed}"
        )
    tokens = sqlglot.tokenize(query, read=dialect)
    if any(token.token_type == TokenType.EQ for token in tokens):
        raise refused(f"PRAGMA {name} = value sets a value; write PRAGMA {name}(table)")


def _pragma_parts(tree: exp.Pragma) -> tuple[exp.Expression, exp.Expression | None]:
    body = tree.this
    if isinstance(body, exp.EQ):
        return body.this, body.expression
    return body, None


def _pragma_name(tree: exp.Pragma) -> str:
    target, _ = _pragma_parts(tree)
    name = target.expression if isinstance(target, exp.Dot) else target
    return str(name.name).lower()


def _render_pragma(tree: exp.Pragma) -> str:
    """`PRAGMA [schema.]name[("argument")]`, the argument always quoted as an identifier."""
    target, argument = _pragma_parts(tree)
    schema = ""
    if isinstance(target, exp.Dot):
        schema = exp.to_identifier(target.this.name, quoted=True).sql("sqlite") + "."
    text = f"PRAGMA {schema}{_pragma_name(tree)}"
    if argument is not None:
        text += f"({exp.to_identifier(argument.name, quoted=True).sql('sqlite')})"
    return text
