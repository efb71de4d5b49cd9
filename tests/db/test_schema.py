"""init_db creates the data contract's tables, columns, enum types and cascades."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from aa_notebooks.db.engine import get_engine

# The data contract's DDL, column by column (the kit's additions are checked separately).
DOCUMENT_COLUMNS = {
    "agentexecutions": [
        "id", "user_id", "request_id", "session_id", "agent_id", "agent_name", "agent_type",
        "model_name", "status", "input_tokens", "output_tokens", "total_tokens", "cost_usd",
        "execution_time_ms", "llm_time_ms", "query_preview", "error_type", "error_message",
        "started_at", "completed_at",
    ],
    "executiontraces": [
        "id", "execution_id", "step_number", "step_type", "content", "input_tokens",
        "output_tokens", "duration_ms", "timestamp",
    ],
    "tokenusages": [
        "id", "execution_id", "component", "model", "input_tokens", "output_tokens", "cost_usd",
        "step_number",
    ],
    "budgetalerts": [
        "id", "user_id", "scope", "threshold_usd", "period_days", "alert_type",
        "alert_at_percentage", "is_active", "email_notification", "current_spend_usd",
    ],
}  # fmt: skip
ADDITIONS = {
    "agentexecutions": ["flow_id"],
    "executiontraces": ["parent_step", "depth"],
    "tokenusages": [
        "cache_read_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "price_source",
        "price_date",
    ],
    "budgetalerts": ["name", "target", "alert_levels", "per_user"],
}
ENUMS = {
    "executionstatus": ["success", "failure", "timeout"],
    "executiontracesteptype": ["thought", "action", "observation", "tool_call", "final_answer"],
    "budgetscope": ["user", "agent", "flow", "global"],
    "budgetalerttype": ["warning", "hard_stop"],
}


def test_tables_and_columns(db_url: str) -> None:
    inspector = inspect(get_engine(db_url))
    assert {"users", *DOCUMENT_COLUMNS} <= set(inspector.get_table_names())
    for table, columns in DOCUMENT_COLUMNS.items():
        present = [c["name"] for c in inspector.get_columns(table)]
        assert present[: len(columns)] == columns
        assert present[len(columns) :] == ADDITIONS.get(table, [])
        nullable = {c["name"]: c["nullable"] for c in inspector.get_columns(table)}
        assert all(nullable[c] for c in ADDITIONS.get(table, []))


def test_cascades_and_indexes(db_url: str) -> None:
    inspector = inspect(get_engine(db_url))
    for child in ("executiontraces", "tokenusages"):
        (fk,) = inspector.get_foreign_keys(child)
        assert fk["referred_table"] == "agentexecutions"
        assert fk["options"].get("ondelete") == "CASCADE"
    budget_fks = inspector.get_foreign_keys("budgetalerts")
    assert [(f["referred_table"], f["options"].get("ondelete")) for f in budget_fks] == [
        ("users", "CASCADE")
    ]
    indexed = {tuple(i["column_names"]) for i in inspector.get_indexes("agentexecutions")}
    assert ("user_id", "started_at") in indexed
    assert any(cols[0] == "started_at" for cols in indexed)
    for child in ("executiontraces", "tokenusages"):
        assert any(i["column_names"][0] == "execution_id" for i in inspector.get_indexes(child))


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgres_types(db_url: str) -> None:
    with get_engine(db_url).connect() as conn:
        enums = {
            name: labels
            for name, labels in conn.execute(
                text(
                    "SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder) "
                    "FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname"
                )
            )
        }
        columns = {
            (table, column): (data_type, udt, precision, scale, default)
            for table, column, data_type, udt, precision, scale, default in conn.execute(
                text(
                    "SELECT table_name, column_name, data_type, udt_name, numeric_precision, "
                    "numeric_scale, column_default FROM information_schema.columns "
                    "WHERE table_schema = 'public'"
                )
            )
        }
    assert enums == ENUMS
    assert columns["agentexecutions", "id"][:2] == ("uuid", "uuid")
    assert columns["agentexecutions", "status"][1] == "executionstatus"
    assert columns["executiontraces", "step_type"][1] == "executiontracesteptype"
    assert columns["budgetalerts", "scope"][1] == "budgetscope"
    assert columns["budgetalerts", "alert_type"][1] == "budgetalerttype"
    assert columns["agentexecutions", "cost_usd"][2:4] == (10, 6)
    assert columns["tokenusages", "cost_usd"][2:4] == (10, 6)
    assert columns["budgetalerts", "threshold_usd"][2:4] == (10, 2)
    assert columns["budgetalerts", "current_spend_usd"][2:4] == (10, 2)
    assert columns["agentexecutions", "started_at"][0] == "timestamp without time zone"
    assert columns["agentexecutions", "started_at"][4] == "now()"
    assert columns["budgetalerts", "period_days"][4] == "30"
    assert columns["budgetalerts", "alert_at_percentage"][4] == "80"
    assert columns["budgetalerts", "is_active"][4] == "true"
