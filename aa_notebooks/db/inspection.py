"""`check_db` and `database_info`: what an attached database holds, in plain words.

A database made by the data contract's own DDL has everything the data contract's features use;
the kit's additions (budget names and targets, flows, alert history, the spend ledger) turn
features off when absent, which is reported but is not an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, inspect, select, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError

from aa_notebooks.db.engine import connection_errors, get_engine
from aa_notebooks.db.row_counts import row_counts
from aa_notebooks.db.schema import (
    DOCUMENT_TABLES,
    ROLLUP_TABLES,
    AgentExecution,
    Base,
    KitMetadata,
    table_of,
)
from aa_notebooks.db.url import mask_url

_REQUIRED_TABLES = tuple(table for table in DOCUMENT_TABLES if table != "users")
"""The document's tables the kit cannot do without: `users` is only referenced by it (for user
names, which a database without it goes without: see _FEATURES)."""

# The data contract's columns per table (its DDL); users(id) is all its foreign keys need.
DOCUMENT_COLUMNS: dict[str, frozenset[str]] = {
    "users": frozenset({"id"}),
    "agentexecutions": frozenset({
        "id", "user_id", "request_id", "session_id", "agent_id", "agent_name", "agent_type",
        "model_name", "status", "input_tokens", "output_tokens", "total_tokens", "cost_usd",
        "execution_time_ms", "llm_time_ms", "query_preview", "error_type", "error_message",
        "started_at", "completed_at",
    }),
    "executiontraces": frozenset({
        "id", "execution_id", "step_number", "step_type", "content", "input_tokens",
        "output_tokens", "duration_ms", "timestamp",
    }),
    "tokenusages": frozenset({
        "id", "execution_id", "component", "model", "input_tokens", "output_tokens", "cost_usd",
        "step_number",
    }),
    "budgetalerts": frozenset({
        "id", "user_id", "scope", "threshold_usd", "period_days", "alert_type",
        "alert_at_percentage", "is_active", "email_notification", "current_spend_usd",
    }),
}  # fmt: skip

# What stops working when a table or column is missing; "*" stands for the whole table.
_FEATURES: dict[tuple[str, str], str] = {
    ("agentexecutions", "*"): "all analytics (the executions table is the source of every number)",
    ("executiontraces", "*"): "the trace explorer (ReAct steps of an execution)",
    ("tokenusages", "*"): "token usage by component",
    ("budgetalerts", "*"): "budgets and budget alerts",
    ("budgetalertevents", "*"): "budget alerts: `budgets evaluate` fires and emails none, "
    "since the fired alerts are kept in that table (budget statuses still work)",
    ("agentexecutions", "flow_id"): "flow-scoped budgets",
    ("budgetalerts", "name"): "budget names (budgets are shown by id)",
    ("budgetalerts", "target"): "agent- and flow-scoped budgets",
    ("budgetalerts", "alert_levels"): "several warning levels per budget (one still works)",
    ("budgetalerts", "per_user"): "per-user budgets (a budget for each user separately)",
    ("users", "*"): "user names in results (user ids still work)",
    ("users", "username"): "user names in results (user ids still work)",
    ("users", "email"): "user email addresses in results",
    ("budgetspendledger", "*"): "fast budget checks (spend is summed from the executions instead)",
    ("budgetgeneration", "*"): "hard-stop budgets kept in memory (each check reads them instead)",
    ("executiontraces", "parent_step"): "nesting of ingested trace steps (shown flat)",
    ("executiontraces", "depth"): "nesting of ingested trace steps (shown flat)",
    ("tokenusages", "cache_read_tokens"): "prompt-cache token counts and what caching saved",
    ("tokenusages", "cache_write_tokens"): "prompt-cache token counts and what caching saved",
    ("tokenusages", "reasoning_tokens"): "reasoning token counts",
    ("tokenusages", "price_source"): "which price costed each usage row (repricing still works)",
    ("tokenusages", "price_date"): "which price costed each usage row (repricing still works)",
    ("otelstagedspans", "*"): "OTLP ingest of traces that arrive in pieces (whole ones still work)",
    (
        "otelstagedtraces",
        "*",
    ): "OTLP ingest of traces that arrive in pieces (whole ones still work)",
    **{
        (table, "*"): "rollups for big windows (analytics reads the raw rows; "
        "`aa-notebooks rollups enable` creates them)"
        for table in ROLLUP_TABLES
    },
    ("apitokens", "*"): "stored API tokens (the API takes AA_API_TOKEN, or your app's own auth)",
    ("runningexecutions", "*"): "runs in flight (runs are seen once they end)",
    ("anomalyalertssent", "*"): "anomaly alerts (each anomaly sent once)",
}


class OddTimesWarning(UserWarning):
    """An SQLite database stores times in a text form that does not compare as a time."""


@dataclass(frozen=True)
class DatabaseCheck:
    """The tables and columns a database lacks, and the features that are off because of it.

    `ok` (and a zero exit of `check-db`) means the data contract's schema is all there;
    `complete` means the kit's additions are there too.
    """

    url: str
    missing_tables: list[str] = field(default_factory=list)
    missing_columns: dict[str, list[str]] = field(default_factory=dict)
    created_by_kit: bool = False
    odd_times: dict[str, str | float] = field(default_factory=dict)
    """SQLite: "table.column" -> a value in a text form that does not compare as a time
    (`odd_times`), from the first and last rows."""
    odd_ids: dict[str, object] = field(default_factory=dict)
    """SQLite: "table.column" -> a value of an id column that is no UUID ('planner-agent', or
    digits SQLite stored as a number), from the first and last rows."""
    unreadable: list[str] = field(default_factory=list)
    """PostgreSQL: tables present that this role may not SELECT from (the commands that read
    them fail)."""
    unwritable: list[str] = field(default_factory=list)
    """PostgreSQL: tables present that recording writes and this role may not INSERT into,
    UPDATE or DELETE from (it may read and report, not record)."""
    role: str | None = None
    """PostgreSQL: the role the URL connects as, named in the GRANTs the report suggests."""

    @property
    def missing_from_document(self) -> list[str]:
        """What the data contract's schema has and this database lacks ("table.column")."""
        tables = [t for t in self.missing_tables if t in _REQUIRED_TABLES]
        columns = [
            f"{table}.{column}"
            for table, lacking in self.missing_columns.items()
            for column in lacking
            if column in DOCUMENT_COLUMNS.get(table, ())
        ]
        return tables + columns

    @property
    def ok(self) -> bool:
        """Every table and column of the data contract's schema is present, and its times and
        ids are in a form the kit reads (SQLite)."""
        return (
            not self.missing_from_document
            and not self.odd_times
            and not self.odd_ids
            and not self.unreadable
        )

    @property
    def complete(self) -> bool:
        """The kit's additions are present too: every feature is on."""
        return not self.missing_tables and not self.missing_columns

    @property
    def disabled_features(self) -> list[str]:
        """The features that are off, each once."""
        out = [_FEATURES.get((t, "*"), f"features that use table {t}") for t in self.missing_tables]
        for table, columns in self.missing_columns.items():
            out += [_FEATURES.get((table, c), f"features that use {table}.{c}") for c in columns]
        return list(dict.fromkeys(out))

    def has(self, table: str, column: str | None = None) -> bool:
        """Whether the database has the table (and the column, when given)."""
        if table in self.missing_tables:
            return False
        return column is None or column not in self.missing_columns.get(table, [])

    def __str__(self) -> str:
        if self.missing_from_document:
            head = (
                f"{self.url}: lacks part of the AgentOS analytics schema: "
                f"{', '.join(self.missing_from_document)}"
            )
        elif self.complete:
            head = f"{self.url}: every table and column aa-notebooks uses is present"
        else:
            head = (
                f"{self.url}: the AgentOS analytics tables are all present; "
                "some of aa-notebooks' additions are not, so the features below are off "
                "(everything else works)"
            )
        if self.odd_times:
            head += "; some times are stored in a form the kit cannot compare (see below)"
        if self.odd_ids:
            head += "; some ids are not UUIDs (see below)"
        if self.unreadable:
            head += f"; this role may not read {len(self.unreadable)} of its tables (see below)"
        lines = [head]
        lines += [f"  missing table {t}" for t in self.missing_tables]
        lines += [
            f"  missing column {t}.{c}" for t, cols in self.missing_columns.items() for c in cols
        ]
        lines += [f"  disabled: {f}" for f in self.disabled_features]
        if not self.created_by_kit and "agentexecutions" in self.missing_tables:
            lines.append("  run `aa-notebooks init-db` to create the tables")
        return "\n".join(lines + self.time_notes() + self.id_notes() + self.privilege_notes())

    def privilege_notes(self) -> list[str]:
        """Report lines on the tables this role may not read or record into, with the GRANT
        that mends each."""
        lines = [f"  cannot read table {table}" for table in self.unreadable]
        if self.unreadable:
            lines.append(
                f"  grant it with: GRANT SELECT ON {', '.join(self.unreadable)} TO {self.role};"
            )
        if self.unwritable:
            lines.append(
                "  this role may not record runs (it lacks INSERT, UPDATE or DELETE on "
                f"{', '.join(self.unwritable)}); to record with it: GRANT SELECT, INSERT, UPDATE, "
                f"DELETE ON {', '.join(self.unwritable)} TO {self.role};"
            )
        return lines

    def time_notes(self) -> list[str]:
        """Report lines on the times in an odd form (`odd_times`), with the UPDATE that mends
        them."""
        lines = []
        for (name, example), finding in zip(
            self.odd_times.items(), self.time_findings(), strict=True
        ):
            table, column = name.split(".")
            lines += [f"  {finding}", f"  mend them with: {_mend(table, column, example)}"]
        return lines

    def time_findings(self) -> list[str]:
        """One sentence per column whose times are in an odd form (`odd_times`), without the
        UPDATE that mends them (a report's reader is told where to find it)."""
        return [
            f"{name} holds times like {example!r}: SQLite compares times as text, so windows "
            "would miss or misplace such rows; the kit needs UTC as "
            "'YYYY-MM-DD HH:MM:SS[.ffffff]'"
            for name, example in self.odd_times.items()
        ]

    def id_notes(self) -> list[str]:
        """Report lines on the id columns that hold values that are no UUID (`odd_ids`)."""
        return [
            f"  {name} holds values like {example!r}, which are not UUIDs: reads through such "
            "rows fail; write UUIDs there (str(uuid), which SQLite keeps as text) or NULL"
            for name, example in self.odd_ids.items()
        ]

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython shows the plain-words report, not the dataclass fields."""
        printer.text(str(self))


def check_db(url: str | URL | None = None) -> DatabaseCheck:
    """Compare the database with the kit's schema, read-only."""
    engine = get_engine(url)
    with connection_errors(engine.url):
        inspector = inspect(engine)
        existing = set(inspector.get_table_names())
        missing_tables, missing_columns = [], {}
        for table in Base.metadata.sorted_tables:
            if table.name == KitMetadata.__tablename__:
                continue
            if table.name not in existing:
                missing_tables.append(table.name)
                continue
            present = {c["name"] for c in inspector.get_columns(table.name)}
            lacking = [c.name for c in table.columns if c.name not in present]
            if lacking:
                missing_columns[table.name] = lacking
        odd: dict[str, str | float] = {}
        odd_ids: dict[str, object] = {}
        if engine.dialect.name == "sqlite" and "agentexecutions" in existing:
            lacking = missing_columns.get("agentexecutions", [])
            with engine.connect() as connection:
                odd = {
                    f"agentexecutions.{column}": example
                    for column in ("started_at", "completed_at")
                    if column not in lacking
                    and (example := odd_time(connection, "agentexecutions", column)) is not None
                }
                odd_ids = {
                    f"agentexecutions.{column}": example
                    for column in ID_COLUMNS
                    if column not in lacking
                    and (example := odd_value(connection, "agentexecutions", column, _UUID_FORM))
                    is not None
                }
        role: str | None = None
        unreadable: list[str] = []
        unwritable: list[str] = []
        if engine.dialect.name == "postgresql":
            with engine.connect() as connection:
                role, unreadable, unwritable = _privileges(
                    connection, existing, KitMetadata.__tablename__ in existing
                )
    return DatabaseCheck(
        url=mask_url(engine.url),
        missing_tables=missing_tables,
        missing_columns=missing_columns,
        created_by_kit=KitMetadata.__tablename__ in existing,
        odd_times=odd,
        odd_ids=odd_ids,
        unreadable=unreadable,
        unwritable=unwritable,
        role=role,
    )


RECORDED_TABLES = (
    "agentexecutions", "executiontraces", "tokenusages", "budgetspendledger",
    "runningexecutions", *ROLLUP_TABLES,
)  # fmt: skip
"""The tables the recording side writes (what it finds of them): its runs, their spend, the
runs in flight, the rollups; and in the kit's own database, `users` (the users it meets)."""
_PRIVILEGES = text("""SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname),
  has_table_privilege(c.oid, 'SELECT') OR NOT EXISTS (
    SELECT FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    AND NOT has_column_privilege(c.oid, a.attnum, 'SELECT')),
  has_table_privilege(c.oid, 'INSERT') AND has_table_privilege(c.oid, 'UPDATE')
    AND has_table_privilege(c.oid, 'DELETE'),
  name
FROM unnest(CAST(:names AS text[])) AS name
JOIN pg_class c ON c.oid = to_regclass(quote_ident(name))
JOIN pg_namespace n ON n.oid = c.relnamespace
ORDER BY 1""")
"""Per table: its name as a GRANT must write it (schema-qualified, quoted where needed), whether
the role may read it (the table, or every column of it), whether it may write it (INSERT,
UPDATE and DELETE, which recording's upserts and replacements need)."""


def _privileges(
    connection: Connection, existing: set[str], kit_database: bool
) -> tuple[str, list[str], list[str]]:
    """PostgreSQL: this role's name as SQL writes it, the kit's tables present that it may not
    read, and the recorded ones it may not write (found through the search_path, as the kit's
    statements find them; named with their schema, as a GRANT by another role needs them)."""
    role = connection.execute(select(func.quote_ident(func.current_user()))).scalar_one()
    tables = [t.name for t in Base.metadata.sorted_tables if t.name in existing]
    found = connection.execute(_PRIVILEGES, {"names": tables}).all()
    unreadable = [qualified for qualified, may_read, _, _ in found if not may_read]
    unwritable = [
        qualified
        for qualified, _, may_write, name in found
        if (name in RECORDED_TABLES or (kit_database and name == "users")) and not may_write
    ]
    return role, unreadable, unwritable


TIME_SAMPLE_ROWS = 200
"""Rows looked at from each end of a table for times in an odd form (a cheap probe: a program
writes them all one way)."""


def odd_time(connection: Connection, table: str, column: str) -> str | float | None:
    """SQLite: a value of `column` among the table's first and last rows that does not compare
    as a time, as text: not `YYYY-MM-DD HH:MM:SS` with an optional fraction (a `T`, a UTC offset,
    a number of seconds). None when they all do."""
    found = odd_value(connection, table, column, _TIME_FORM)
    return found if found is None or isinstance(found, int | float) else str(found)


def odd_value(connection: Connection, table: str, column: str, form: str) -> Any:
    """SQLite: a value of `column` among the table's first and last TIME_SAMPLE_ROWS rows that
    is not NULL and not of `form` (SQL over `{v}`); None when they all are (a cheap probe: a
    program writes a column all one way)."""
    odd = f"v IS NOT NULL AND NOT ({form.format(v='v')}) LIMIT 1"
    try:
        sample = (
            f"SELECT * FROM (SELECT {column} AS v FROM {table} ORDER BY rowid {{}} "
            f"LIMIT {TIME_SAMPLE_ROWS})"
        )
        query = f"SELECT v FROM ({sample.format('DESC')} UNION ALL {sample.format('ASC')})"
        found = connection.exec_driver_sql(f"{query} WHERE {odd}").first()
    except OperationalError:  # a table WITHOUT ROWID: some rows, in no order
        query = f"SELECT v FROM (SELECT {column} AS v FROM {table} LIMIT {2 * TIME_SAMPLE_ROWS})"
        found = connection.exec_driver_sql(f"{query} WHERE {odd}").first()
    return None if found is None else found[0]


ID_COLUMNS = ("id", "user_id", "agent_id", "request_id", "session_id")
"""The UUID columns of agentexecutions that another program fills."""
_HEX = "[0-9a-fA-F]"
_UUID_FORM = (
    "typeof({v}) = 'text' AND ("
    "(length({v}) = 32 AND {v} NOT GLOB '*[^0-9a-fA-F]*') OR "
    "(length({v}) = 36 AND {v} GLOB '" + "-".join(_HEX * n for n in (8, 4, 4, 4, 12)) + "'))"
)
"""SQL: `{v}` holds a UUID as text, the kit's 32 hex digits or the dashed form."""


_TIME_FORM = (
    "typeof({v}) = 'text' AND length({v}) BETWEEN 19 AND 26 AND {v} GLOB "
    "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]*' "
    "AND (length({v}) = 19 OR (substr({v}, 20, 1) = '.' AND substr({v}, 21) NOT GLOB '*[^0-9]*'))"
)
"""SQL: `{v}` holds a time as the kit compares it (`YYYY-MM-DD HH:MM:SS[.f...]`, text)."""


def _mend(table: str, column: str, example: str | float) -> str:
    """The UPDATE that rewrites the column's odd times as UTC text, leaving the others alone:
    Unix seconds when the example is a number, else text SQLite parses (keeping milliseconds);
    text it cannot parse is left as it is."""
    if isinstance(example, int | float):
        return (
            f"UPDATE {table} SET {column} = strftime('%Y-%m-%d %H:%M:%f', {column}, 'unixepoch') "
            f"WHERE typeof({column}) IN ('integer', 'real')  -- if they are Unix seconds"
        )
    parsed = f"strftime('%Y-%m-%d %H:%M:%f', {column})"
    return (
        f"UPDATE {table} SET {column} = {parsed} WHERE typeof({column}) = 'text' "
        f"AND NOT ({_TIME_FORM.format(v=column)}) AND {parsed} IS NOT NULL"
    )


@dataclass(frozen=True)
class DatabaseInfo:
    """Which database, how many rows per table, and the time span of the executions;
    `estimated` names the tables whose rows are PostgreSQL's estimate (`db.row_counts`)."""

    url: str
    row_counts: dict[str, int]
    first_execution: datetime | None
    last_execution: datetime | None
    estimated: tuple[str, ...] = ()

    def __str__(self) -> str:
        lines = [f"database: {self.url}"]
        lines += [
            f"  {name}: {'about ' if name in self.estimated else ''}{count:,} rows"
            for name, count in self.row_counts.items()
        ]
        if self.estimated:
            lines.append(
                "  (about: PostgreSQL's own estimate of a big table; `info --exact` counts)"
            )
        if self.first_execution is not None:
            lines.append(f"  executions from {self.first_execution:%Y-%m-%d %H:%M} UTC")
            lines.append(f"  executions to   {self.last_execution:%Y-%m-%d %H:%M} UTC")
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython shows the plain-words report, not the dataclass fields."""
        printer.text(str(self))


def database_info(url: str | URL | None = None, *, exact: bool = False) -> DatabaseInfo:
    """Rows of the kit's tables that exist (big PostgreSQL tables estimated unless `exact`),
    and the executions' date range."""
    engine = get_engine(url)
    with connection_errors(engine.url):
        existing = set(inspect(engine).get_table_names())
        tables = [
            table
            for table in Base.metadata.sorted_tables
            if table.name in existing and table.name != KitMetadata.__tablename__
        ]
        first = last = None
        with engine.connect() as conn:
            counts = row_counts(conn, tables, exact=exact)
            if AgentExecution.__tablename__ in existing:
                started = table_of(AgentExecution).c.started_at
                first, last = conn.execute(select(func.min(started), func.max(started))).one()
    return DatabaseInfo(
        mask_url(engine.url), counts.rows, first, last, tuple(sorted(counts.estimated))
    )
