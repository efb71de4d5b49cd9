"""The budget generation: a counter that moves whenever a budget's definition does.

Triggers on budgetalerts bump the one row of budgetgeneration when a budget is created, deleted
or changed in anything that decides what it stops (scope, target, threshold, period, type,
active...), not when its recorded spend is written back. A process may then keep the hard-stop
budgets in memory and read them again only when the generation moved (`budgets.definitions`).
On PostgreSQL the trigger also sends a notification on CHANNEL in the same transaction, so a
listener learns of the change when it commits, without asking.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, inspect

from aa_notebooks.db.pg_functions import pinned_search_path

CHANNEL = "aa_budgets_changed"
TRIGGER_PREFIX = "aa_budget_generation_"
DEFINING_COLUMNS = (
    "user_id", "scope", "threshold_usd", "period_days", "alert_type", "alert_at_percentage",
    "is_active", "name", "target", "alert_levels", "per_user",
)  # fmt: skip
"""The budgetalerts columns a change to which bumps the generation."""
GENERATION_TABLE = "budgetgeneration"


def on_create(target: Any, connection: Connection, tables: Any = (), **_: Any) -> None:
    """After create_all: the triggers and the counter's row, when budgetgeneration was just made."""
    if GENERATION_TABLE in {table.name for table in tables or ()}:
        install_generation(connection)


def install_generation(connection: Connection) -> None:
    """Create (or replace) the triggers and the counter's row; safe to run again."""
    connection.exec_driver_sql(
        f"INSERT INTO {GENERATION_TABLE} (id, generation) SELECT 1, 0 "
        f"WHERE NOT EXISTS (SELECT 1 FROM {GENERATION_TABLE})"
    )
    present = {column["name"] for column in inspect(connection).get_columns("budgetalerts")}
    watched = ", ".join(name for name in DEFINING_COLUMNS if name in present)
    events = {"insert": "INSERT", "delete": "DELETE", "update": f"UPDATE OF {watched}"}
    bump = f"UPDATE {GENERATION_TABLE} SET generation = generation + 1"
    if connection.dialect.name == "postgresql":
        pinned = pinned_search_path(connection, GENERATION_TABLE)
        connection.exec_driver_sql(f"""
CREATE OR REPLACE FUNCTION {TRIGGER_PREFIX}bump() RETURNS trigger LANGUAGE plpgsql {pinned} AS $$
BEGIN
  {bump};
  PERFORM pg_notify('{CHANNEL}', '');
  RETURN NULL;
END $$""")
    for name, event in events.items():
        trigger = f"{TRIGGER_PREFIX}{name}"
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger} ON budgetalerts")
            connection.exec_driver_sql(
                f"CREATE TRIGGER {trigger} AFTER {event} ON budgetalerts FOR EACH STATEMENT "
                f"EXECUTE FUNCTION {TRIGGER_PREFIX}bump()"
            )
        else:
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
            connection.exec_driver_sql(
                f"CREATE TRIGGER {trigger} AFTER {event} ON budgetalerts FOR EACH ROW "
                f"BEGIN {bump}; END"
            )
