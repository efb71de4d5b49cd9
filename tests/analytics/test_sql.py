"""`sql`: the user's own query runs read-only, with bound parameters, on a throwaway connection.

What the gate refuses, and the targets left untouched, are in test_sql_refusals.py; the user
scope in test_sql_scope.py; the database's own lines behind the gate in test_sql_guards.py.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from aa_notebooks.analytics import Analytics
from aa_notebooks.db.engine import get_engine
from aa_notebooks.errors import InvalidInputError, RefusedQueryError
from tests.analytics.dataset import DROP, eid


def count(analytics: Analytics) -> int:
    return int(analytics.sql("SELECT count(*) AS n FROM agentexecutions")["n"].item())


def test_select_with_bound_parameters(analytics: Analytics) -> None:
    query = "SELECT count(*) AS n FROM agentexecutions WHERE status = :status"
    assert analytics.sql(query, {"status": "failure"})["n"].item() == 2  # E03, E07
    by_name = analytics.sql(
        "SELECT query_preview FROM agentexecutions WHERE agent_name = :name", {"name": DROP}
    )
    assert list(by_name["query_preview"]) == [DROP]  # the value is data, never SQL
    assert count(analytics) == 12


def test_a_uuid_binds_in_the_form_the_database_stores(analytics: Analytics) -> None:
    """SQLite's driver refused a UUID parameter ("type 'UUID' is not supported"); the kit
    stores ids there as 32 hex digits. E01 has 4 steps, E03 2."""
    query = "SELECT count(*) AS n FROM executiontraces WHERE execution_id = :run"
    assert analytics.sql(query, {"run": eid(1)})["n"].item() == 4
    assert analytics.sql(query, {"run": eid(3)})["n"].item() == 2


def test_a_uuid_binds_in_a_user_scoped_session_too(analytics_u1: Analytics) -> None:
    """Whether the database is the kit's was read on the guarded connection, whose authorizer
    refuses the catalog in a scoped session: "access to sqlite_master.type is prohibited"."""
    query = "SELECT count(*) AS n FROM executiontraces WHERE execution_id = :run"
    assert analytics_u1.sql(query, {"run": eid(1)})["n"].item() == 4  # E01 is U1's


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM agentexecutions",
        "UPDATE agentexecutions SET cost_usd = 0",
        "DROP TABLE tokenusages",
        "SELECT 1; DELETE FROM agentexecutions",
        "COMMIT; DELETE FROM agentexecutions",
    ],
)
def test_writes_are_refused_before_they_run(analytics: Analytics, statement: str) -> None:
    with pytest.raises(RefusedQueryError, match=r"^refused: .*; only one SELECT runs here$"):
        analytics.sql(statement)
    assert count(analytics) == 12


def test_the_pool_stays_writable_and_errors_are_one_line(
    analytics: Analytics, loaded_url: str
) -> None:
    analytics.sql("SELECT 1 AS one")
    with get_engine(loaded_url).begin() as connection:  # the kit's own writes still work
        connection.execute(text("DELETE FROM tokenusages"))
    assert analytics.execution(analytics.executions().rows["id"][0]).token_usage.empty
    with pytest.raises(RefusedQueryError, match="is not a SELECT"):
        analytics.sql("SELEC nothing")
    with pytest.raises(InvalidInputError, match=r"the query failed: .*no_such_column"):
        analytics.sql("SELECT no_such_column FROM agentexecutions")
    with pytest.raises(InvalidInputError, match=r"names the parameter :id, which has no value"):
        analytics.sql("SELECT * FROM agentexecutions WHERE id = :id")  # no value for :id
    with pytest.raises(InvalidInputError, match="empty"):
        analytics.sql("  ")


def test_legitimate_queries_still_run(analytics: Analytics, backend: str) -> None:
    """Aggregates, window functions, CTEs and parameters, with the dataset's answers by hand."""
    by_status = analytics.sql(
        "SELECT status, count(*) AS n, sum(input_tokens) AS tokens FROM agentexecutions "
        "GROUP BY status ORDER BY n"
    )
    # failure: E03 300 + E07 10; timeout: E04 400; success: the other nine (7951 tokens).
    assert by_status.values.tolist() == [["timeout", 1, 400], ["failure", 2, 310],
                                         ["success", 9, 7951]]  # fmt: skip
    ranked = analytics.sql(
        "SELECT execution_time_ms AS ms, rank() OVER (ORDER BY execution_time_ms DESC) AS r, "
        "sum(execution_time_ms) OVER (ORDER BY execution_time_ms DESC) AS running "
        "FROM agentexecutions WHERE status = :status ORDER BY r",
        {"status": "failure"},
    )
    assert ranked.values.tolist() == [[500, 1, 500], [250, 2, 750]]  # E03, E07
    models = analytics.sql(
        "WITH by_model AS (SELECT model_name, count(*) AS n FROM agentexecutions "
        "GROUP BY model_name) SELECT model_name, n FROM by_model WHERE n > :least ORDER BY n DESC",
        {"least": 1},
    )
    assert models.values.tolist() == [["gpt-4o", 7], ["claude-3-5-sonnet", 4]]
    if backend == "postgresql":
        # The twelve times sorted: 1, 1, 250, 500, 700, 1000 | 2000, 3000, ...: median 1500.
        median = analytics.sql(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY execution_time_ms) AS p50 "
            "FROM agentexecutions"
        )
        assert median["p50"].tolist() == [1500.0]


def test_text_that_looks_like_a_parameter_stays_text(analytics: Analytics) -> None:
    frame = analytics.sql("SELECT 'at :noon' AS said, lower('A') AS low, :value AS v", {"value": 7})
    assert frame.values.tolist() == [["at :noon", "a", 7]]
