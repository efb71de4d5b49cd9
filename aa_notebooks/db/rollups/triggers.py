"""Triggers that mark the hours whose rows change behind the rollups' back.

The kit's write paths keep the rollups current for what they insert, and say so for the length
of their transaction (`record.begin_writing`): PostgreSQL a transaction-local setting, SQLite,
whose writers take turns, a row in rollup_writing; either holds the release's WRITER_VERSION.
Any other INSERT (an earlier release's writer's too), DELETE (and the cascade to an execution's
usage rows) or UPDATE is caught here: the hour the row started in goes into rollup_dirty_hours,
readers take that hour from the raw rows, and the next `rollups rebuild` recomputes it (on
SQLite, an INSERT OR REPLACE marks the hour of the row it replaces too).
So rows written with plain SQL, or by another program on an attached database, never make the
analytics wrong, only slower until a rebuild. PostgreSQL uses statement triggers
with transition tables (one INSERT per statement, however many rows); SQLite row triggers.
A TRUNCATE (PostgreSQL's; SQLite has none, and its DELETE without WHERE fires the row triggers)
leaves nothing to sum: it empties the rollups that its table feeds, in its own transaction.
"""

from __future__ import annotations

from sqlalchemy import Connection, inspect

from aa_notebooks.db.pg_functions import pinned_search_path
from aa_notebooks.db.schema import CACHE_ROLLUP_TABLES, ROLLUP_TABLES

_SQLITE_HOUR = "strftime('%Y-%m-%d %H:00:00.000000', {row}.started_at)"
_EXECUTION_COLUMNS = (
    "started_at", "user_id", "agent_id", "agent_name", "model_name", "status", "flow_id",
    "execution_time_ms", "input_tokens", "output_tokens", "total_tokens", "cost_usd",
)  # fmt: skip
_USAGE_COLUMNS = ("execution_id", "model", "input_tokens", "output_tokens", "cost_usd")
TRIGGER_PREFIX = "aa_rollup_"
WRITER_SETTING = "aa_notebooks.rollup_writer"
"""PostgreSQL: 'on' inside a kit write path's transaction (what the triggers of releases before
WRITER_VERSION look for: an AgentOS database keeps them until `rollups enable` runs again)."""
VERSION_SETTING = "aa_notebooks.rollup_writer_version"
"""PostgreSQL: WRITER_VERSION inside a kit write path's transaction."""
WRITER_VERSION = 2
"""What a kit write path declares (VERSION_SETTING's value, rollup_writing's id) to say it keeps
every rollup of this release current. Raise it when a release adds a rollup that its writers
fill: a writer of an earlier release still running (a fleet upgraded one host at a time, a
rollback) declares its own, older number, and its rows are marked like any other program's
instead of leaving the newer rollups short. Releases before this one declared only 'on', and
id 1."""
_SQLITE_OTHERS = f"WHEN NOT EXISTS (SELECT 1 FROM rollup_writing WHERE id = {WRITER_VERSION})"


def install_triggers(connection: Connection) -> None:
    """Create (or replace) the marking triggers."""
    if connection.dialect.name == "postgresql":
        _postgresql(connection)
    else:
        _sqlite(connection)


def _sqlite_mark(row: str) -> str:
    return (
        f"INSERT OR IGNORE INTO rollup_dirty_hours (hour) SELECT "
        f"{_SQLITE_HOUR.format(row=row)} WHERE {row}.started_at IS NOT NULL;"
    )


def _sqlite_mark_usage(row: str) -> str:
    return _sqlite_mark_executions(f"agentexecutions e WHERE e.id = {row}.execution_id")


def _sqlite_mark_executions(rows: str) -> str:
    """Mark the hours of the executions `e` that `rows` (FROM ... WHERE ...) picks."""
    return (
        "INSERT OR IGNORE INTO rollup_dirty_hours (hour) SELECT "
        f"{_SQLITE_HOUR.format(row='e')} FROM {rows} AND e.started_at IS NOT NULL;"
    )


def _sqlite(connection: Connection) -> None:
    present = {c["name"] for c in inspect(connection).get_columns("agentexecutions")}
    watched = ", ".join(name for name in _EXECUTION_COLUMNS if name in present)
    # Inserts are marked before they happen: an INSERT OR REPLACE deletes the row of the same
    # id without firing the delete triggers (unless its writer turned recursive_triggers on), so
    # that row's hour is marked too (one trigger, not two: the kit's writers pay for each WHEN).
    events = {
        "executions_delete": ("AFTER DELETE ON agentexecutions", _sqlite_mark("OLD")),
        "executions_update": (
            f"AFTER UPDATE OF {watched} ON agentexecutions",
            _sqlite_mark("OLD") + _sqlite_mark("NEW"),
        ),
        "usages_delete": ("AFTER DELETE ON tokenusages", _sqlite_mark_usage("OLD")),
        "usages_update": (
            f"AFTER UPDATE OF {', '.join(_USAGE_COLUMNS)} ON tokenusages",
            _sqlite_mark_usage("OLD") + _sqlite_mark_usage("NEW"),
        ),
        "executions_insert": (
            "BEFORE INSERT ON agentexecutions",
            _sqlite_mark("NEW") + _sqlite_mark_executions("agentexecutions e WHERE e.id = NEW.id"),
        ),
        "usages_insert": (
            "BEFORE INSERT ON tokenusages",
            _sqlite_mark_usage("NEW")
            + _sqlite_mark_executions(
                "tokenusages u JOIN agentexecutions e ON e.id = u.execution_id WHERE u.id = NEW.id"
            ),
        ),
    }
    for name, (event, body) in events.items():
        when = _SQLITE_OTHERS if "INSERT" in event else ""
        connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {TRIGGER_PREFIX}{name}")
        connection.exec_driver_sql(
            f"CREATE TRIGGER {TRIGGER_PREFIX}{name} {event} FOR EACH ROW {when} BEGIN {body} END"
        )


_PG_FUNCTIONS = {
    "executions": """
INSERT INTO rollup_dirty_hours (hour)
SELECT DISTINCT date_trunc('hour', started_at) FROM {rows} WHERE started_at IS NOT NULL
ON CONFLICT DO NOTHING;""",
    "usages": """
INSERT INTO rollup_dirty_hours (hour)
SELECT DISTINCT date_trunc('hour', e.started_at) FROM {rows} u
JOIN agentexecutions e ON e.id = u.execution_id WHERE e.started_at IS NOT NULL
ON CONFLICT DO NOTHING;""",
}


_PG_TRUNCATED = {
    "executions": ("agentexecutions", [t for t in ROLLUP_TABLES if t != "rollup_writing"]),
    "usages": ("tokenusages", ["rollup_usage_hour", "rollup_usage_day", *CACHE_ROLLUP_TABLES]),
}
"""What a TRUNCATE of each table empties: every rollup (and mark) for the executions (their
usage rows go with them), the cost by model and cache rollups for the usage rows."""


def _postgresql(connection: Connection) -> None:
    pinned = pinned_search_path(connection, "agentexecutions")
    for kind, body in _PG_FUNCTIONS.items():
        connection.exec_driver_sql(f"""
CREATE OR REPLACE FUNCTION {TRIGGER_PREFIX}mark_{kind}() RETURNS trigger LANGUAGE plpgsql
{pinned} AS $$
BEGIN
  IF TG_OP = 'INSERT' AND current_setting('{VERSION_SETTING}', true) = '{WRITER_VERSION}' THEN
    RETURN NULL;
  END IF;
  IF TG_OP IN ('DELETE', 'UPDATE') THEN {body.format(rows="old_rows")} END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN {body.format(rows="new_rows")} END IF;
  RETURN NULL;
END $$""")
        table = "agentexecutions" if kind == "executions" else "tokenusages"
        events = {
            "delete": f"DELETE ON {table} REFERENCING OLD TABLE AS old_rows",
            "update": f"UPDATE ON {table} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
            "insert": f"INSERT ON {table} REFERENCING NEW TABLE AS new_rows",
        }
        for op, clause in events.items():
            name = f"{TRIGGER_PREFIX}{kind}_{op}"
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            connection.exec_driver_sql(
                f"CREATE TRIGGER {name} AFTER {clause} FOR EACH STATEMENT "
                f"EXECUTE FUNCTION {TRIGGER_PREFIX}mark_{kind}()"
            )
    for kind, (table, emptied) in _PG_TRUNCATED.items():
        deletes = " ".join(f"DELETE FROM {name};" for name in emptied)
        connection.exec_driver_sql(f"""
CREATE OR REPLACE FUNCTION {TRIGGER_PREFIX}truncated_{kind}() RETURNS trigger LANGUAGE plpgsql
{pinned} AS $$ BEGIN {deletes} RETURN NULL; END $$""")
        name = f"{TRIGGER_PREFIX}{kind}_truncate"
        connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        connection.exec_driver_sql(
            f"CREATE TRIGGER {name} AFTER TRUNCATE ON {table} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION {TRIGGER_PREFIX}truncated_{kind}()"
        )
