"""The search_path of the kit's PostgreSQL trigger functions: the schema of the tables they serve.

A trigger function names the kit's tables without a schema, and PostgreSQL looks a name up
through the search_path of whoever is writing. Another program writing with another path (the
default `"$user", public` while the kit's tables live in a schema of their own, or pg_dump's
restore, which empties it) found no such table and failed its write, or marked the hours of
another copy of the tables in `public`. Each function is pinned to its tables' schema instead.
"""

from __future__ import annotations

from sqlalchemy import Connection, text


def pinned_search_path(connection: Connection, table: str) -> str:
    """The `SET search_path` clause of a function that serves `table` (found through the
    installer's search_path, as the kit's statements find it); none when there is no such
    table, whose trigger then fails to be made, saying so."""
    schema = connection.execute(
        text(
            "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.oid = to_regclass(:table)"
        ),
        {"table": table},
    ).scalar()
    if schema is None:
        return ""
    quoted = connection.dialect.identifier_preparer.quote_identifier(schema)
    return f"SET search_path = {quoted}, pg_temp"
