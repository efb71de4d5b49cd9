"""The kit's additions for ingested traces reach a database of the previous release."""

from __future__ import annotations

import uuid

from sqlalchemy import inspect, text

from aa_notebooks.db.engine import dispose_engine, get_engine
from aa_notebooks.db.setup import init_db

ADDED = {
    "executiontraces": {"parent_step", "depth"},
    "tokenusages": {"cache_read_tokens", "cache_write_tokens"},
}


def _columns(url: str, table: str) -> set[str]:
    return {column["name"] for column in inspect(get_engine(url)).get_columns(table)}


def test_a_previous_release_database_gets_the_columns_and_tables_and_keeps_its_rows(
    empty_db_url: str,
) -> None:
    init_db(empty_db_url)
    execution, step = uuid.uuid4(), uuid.uuid4()
    with get_engine(empty_db_url).begin() as connection:
        for statement in (
            "DELETE FROM aa_notebooks_migrations WHERE name = 'otel_nesting_and_cache_tokens'",
            "DROP TABLE otelstagedspans",
            "DROP TABLE otelstagedtraces",
            "ALTER TABLE executiontraces DROP COLUMN parent_step",
            "ALTER TABLE executiontraces DROP COLUMN depth",
            "ALTER TABLE tokenusages DROP COLUMN cache_read_tokens",
            "ALTER TABLE tokenusages DROP COLUMN cache_write_tokens",
        ):
            connection.execute(text(statement))
        connection.execute(
            text("INSERT INTO agentexecutions (id, request_id, session_id, status) "
                 "VALUES (:id, :id, :id, 'success')"),
            {"id": execution if empty_db_url.startswith("postgresql") else execution.hex},
        )  # fmt: skip
        connection.execute(
            text("INSERT INTO executiontraces (id, execution_id, step_number, step_type) "
                 "VALUES (:id, :execution, 1, 'thought')"),
            {"id": step.hex, "execution": execution.hex}
            if empty_db_url.startswith("sqlite") else {"id": step, "execution": execution},
        )  # fmt: skip
    dispose_engine(empty_db_url)
    for table, added in ADDED.items():
        assert not added & _columns(empty_db_url, table)

    report = init_db(empty_db_url)

    assert report.migrations == ["otel_nesting_and_cache_tokens"]
    assert set(report.created_tables) == {"otelstagedspans", "otelstagedtraces"}
    for table, added in ADDED.items():
        assert added <= _columns(empty_db_url, table)
    with get_engine(empty_db_url).connect() as connection:
        rows = connection.execute(
            text("SELECT step_number, parent_step, depth FROM executiontraces")
        ).all()
    assert [tuple(row) for row in rows] == [(1, None, None)]
