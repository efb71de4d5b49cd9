"""`sql`: the user's own query runs read-only, with bound parameters, on a throwaway connection."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from aa_notebooks.analytics import Analytics
from aa_notebooks.db.engine import get_engine
from aa_notebooks.errors import InvalidInputError
from tests.analytics.dataset import DROP


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
def test_writes_are_refused_by_the_database(analytics: Analytics, statement: str) -> None:
    with pytest.raises(InvalidInputError, match="the query failed"):
        analytics.sql(statement)
    assert count(analytics) == 12


def test_the_pool_stays_writable_and_errors_are_one_line(
    analytics: Analytics, loaded_url: str
) -> None:
    analytics.sql("SELECT 1 AS one")
    with get_engine(loaded_url).begin() as connection:  # the kit's own writes still work
        connection.execute(text("DELETE FROM tokenusages"))
    assert analytics.execution(analytics.executions().rows["id"][0]).token_usage.empty
    with pytest.raises(InvalidInputError, match="the query failed"):
        analytics.sql("SELEC nothing")
    with pytest.raises(InvalidInputError, match="the query failed"):
        analytics.sql("SELECT * FROM agentexecutions WHERE id = :id")  # no value for :id
    with pytest.raises(InvalidInputError, match="empty"):
        analytics.sql("  ")
