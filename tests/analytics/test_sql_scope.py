"""A user-scoped session's ad hoc SQL sees exactly that user's rows, on both databases, through
`Analytics.sql`, the magic in a real IPython shell and the CLI.

Counts by hand from tests/analytics/dataset.py, plus three budgets made here (one per user and
one global). U1 owns E01, E02, E05, E06, E08, E09, E11, E12 (8 executions, all successes), E01's
4 trace steps and its 2 usage rows (0.000500 + 0.001000 USD). U2 owns E03, E04, E07, E10
(4 executions, one success: E10), E03's 2 trace steps and its 1 usage row (0.000900 USD).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell
from sqlalchemy import create_engine, insert

from aa_notebooks.analytics import Analytics, connect
from aa_notebooks.cli import main
from aa_notebooks.db.schema import BudgetAlert
from aa_notebooks.db.url import resolve_url
from aa_notebooks.errors import InvalidInputError, RefusedQueryError
from tests.analytics import dataset

U1, U2 = dataset.U1, dataset.U2
E03 = dataset.E[3]


def add_budgets(url: str) -> None:
    """One user budget each for U1 and U2, and a global one (no user)."""
    rows = [
        {"id": uuid.UUID(int=0xEE01), "user_id": U1, "scope": "user"},
        {"id": uuid.UUID(int=0xEE02), "user_id": U2, "scope": "user"},
        {"id": uuid.UUID(int=0xEE03), "user_id": None, "scope": "global"},
    ]
    engine = create_engine(resolve_url(url))
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(BudgetAlert.__table__),
                [{**row, "threshold_usd": Decimal(10), "alert_type": "warning"} for row in rows],
            )
    finally:
        engine.dispose()


@pytest.fixture
def url(db_url: str) -> str:
    dataset.load(db_url)
    add_budgets(db_url)
    return db_url


def schema(backend: str) -> str:
    return "main" if backend == "sqlite" else "public"


def scoped_queries(backend: str) -> list[tuple[str, int, int]]:
    """(query returning one number n, n for U1, n for U2)."""
    qualified = f'{schema(backend)}."agentexecutions"'
    return [
        ("SELECT count(*) AS n FROM agentexecutions", 8, 4),
        ("SELECT count(*) AS n FROM executiontraces", 4, 2),
        ("SELECT count(*) AS n FROM tokenusages", 2, 1),
        ("SELECT count(*) AS n FROM users", 1, 1),
        ("SELECT count(*) AS n FROM budgetalerts", 1, 1),
        # joins, aliases, schema-qualified and quoted names
        ("SELECT count(*) AS n FROM executiontraces t JOIN agentexecutions a "
         "ON a.id = t.execution_id", 4, 2),
        ("SELECT count(*) AS n FROM agentexecutions e LEFT JOIN tokenusages u "
         "ON u.execution_id = e.id WHERE u.id IS NOT NULL", 2, 1),
        (f"SELECT count(*) AS n FROM {qualified} AS e WHERE e.status = 'success'", 8, 1),
        (f"SELECT count({schema(backend)}.agentexecutions.id) AS n "
         f"FROM {schema(backend)}.agentexecutions", 8, 4),
        # subqueries
        ("SELECT count(*) AS n FROM tokenusages WHERE execution_id IN "
         "(SELECT id FROM agentexecutions WHERE status = 'success')", 2, 0),
        ("SELECT count(*) AS n FROM (SELECT * FROM executiontraces) AS t", 4, 2),
        ("SELECT (SELECT count(*) FROM executiontraces) AS n", 4, 2),
        ("SELECT count(*) AS n FROM agentexecutions a WHERE EXISTS "
         "(SELECT 1 FROM executiontraces t WHERE t.execution_id = a.id)", 1, 1),
        ("SELECT count(*) AS n FROM (SELECT id FROM agentexecutions UNION ALL "
         "SELECT execution_id FROM tokenusages) AS both_tables", 10, 5),
        # CTEs, including ones named like the tables
        ("WITH mine AS (SELECT id FROM agentexecutions WHERE status = 'success') "
         "SELECT count(*) AS n FROM mine", 8, 1),
        ("WITH users AS (SELECT * FROM agentexecutions) SELECT count(*) AS n FROM users", 8, 4),
        (f"WITH agentexecutions AS (SELECT '{E03}' AS id, '{U1}' AS user_id) "
         "SELECT count(*) AS n FROM executiontraces", 4, 2),
        ("WITH t AS (SELECT execution_id FROM tokenusages), u AS (SELECT * FROM t) "
         "SELECT count(*) AS n FROM u", 2, 1),
        # aggregates
        ("SELECT count(DISTINCT user_id) AS n FROM agentexecutions", 1, 1),
        ("SELECT sum(input_tokens) AS n FROM tokenusages", 100, 300),
        # a join in parentheses, which sqlglot nests in the first table's node: that node
        # (a CTE's name) hid the joined table, read whole (12 executions); two tables joined
        # so lost their join (8 and 4, not 2 and 1)
        ("WITH c AS (SELECT 1 AS x) SELECT count(*) AS n FROM "
         "(c JOIN agentexecutions AS b ON c.x = 1)", 8, 4),
        ("SELECT count(*) AS n FROM (agentexecutions AS a JOIN tokenusages AS t "
         "ON t.execution_id = a.id)", 2, 1),
    ] + ([
        # a table function's arguments, and a table joined to a table function
        ("SELECT count(*) AS n FROM generate_series(1, "
         "(SELECT count(*) FROM agentexecutions)::int) AS g", 8, 4),
        ("SELECT count(*) AS n FROM (generate_series(1, 1) AS g JOIN agentexecutions AS b "
         "ON true)", 8, 4),
    ] if backend == "postgresql" else [])  # fmt: skip


def test_scoped_sql_returns_exactly_the_users_rows(url: str, backend: str) -> None:
    everyone = connect(url)
    mine, theirs = everyone.scoped(U1), everyone.scoped(U2)
    for query, for_u1, for_u2 in scoped_queries(backend):
        assert mine.sql(query)["n"].tolist() == [for_u1], query
        assert theirs.sql(query)["n"].tolist() == [for_u2], query
    assert everyone.sql("SELECT count(*) AS n FROM agentexecutions")["n"].tolist() == [12]


def test_scoped_rows_are_the_users_own(url: str) -> None:
    mine = connect(url, user_id=str(U1))
    cost = mine.sql("SELECT sum(cost_usd) AS cost FROM tokenusages")["cost"].item()
    assert round(float(cost), 6) == 0.0015
    owners = mine.sql("SELECT DISTINCT user_id FROM agentexecutions")["user_id"].tolist()
    assert [uuid.UUID(str(owner)) for owner in owners] == [U1]
    steps = mine.sql("SELECT step_number FROM executiontraces ORDER BY step_number")
    assert steps["step_number"].tolist() == [1, 2, 3, 4]  # E01's steps only


def test_scoped_parameters_and_reserved_name(url: str) -> None:
    mine = connect(url, user_id=str(U1))
    query = "SELECT count(*) AS n FROM agentexecutions WHERE model_name = :model"
    assert mine.sql(query, {"model": "gpt-4o"})["n"].tolist() == [4]  # E01, E02, E09, E11
    with pytest.raises(InvalidInputError, match="reserved"):
        mine.sql(query, {"model": "gpt-4o", "aa_scope_user_id": str(U2)})
    with pytest.raises(RefusedQueryError, match="reserved for the user scope"):
        mine.sql("SELECT count(*) AS n FROM agentexecutions WHERE user_id = :aa_scope_user_id")


def refused_in_scope(backend: str) -> list[str]:
    common = [
        "SELECT * FROM budgetspendledger",
        "SELECT * FROM budgetalertevents",
        "SELECT * FROM aa_notebooks_meta",
        "SELECT * FROM information_schema.tables",
        "SELECT count(*) FROM agentexecutions a JOIN budgetspendledger l ON 1 = 1",
        "WITH x AS (SELECT * FROM budgetspendledger) SELECT * FROM x",
        "SELECT * FROM elsewhere.public.agentexecutions",
        "SELECT * FROM other_schema.agentexecutions",
    ]
    if backend == "sqlite":
        return [*common, "SELECT * FROM sqlite_master", "SELECT * FROM sqlite_schema",
                "SELECT * FROM temp.agentexecutions", "PRAGMA table_info(agentexecutions)",
                "SELECT * FROM pragma_table_info('users')",
                "SELECT count(*) FROM users WHERE 'x' IN budgetspendledger"]  # fmt: skip
    return [*common, "SELECT * FROM pg_catalog.pg_tables", "SELECT * FROM pg_class",
            'SELECT * FROM "AgentExecutions"', "SELECT * FROM pg_catalog.pg_authid"]  # fmt: skip


def test_scoped_sql_refuses_every_other_table(url: str, backend: str) -> None:
    mine = connect(url, user_id=str(U1))
    for query in refused_in_scope(backend):
        with pytest.raises(RefusedQueryError) as refusal:
            mine.sql(query)
        message = str(refusal.value)
        assert message.startswith("refused: "), query
        assert "a user-scoped session reads only agentexecutions" in message, query


@pytest.mark.postgres
def test_tables_in_a_schema_of_their_own_may_be_named_with_it() -> None:
    """With the kit's tables in schema `agents` (the URL's options), a scoped session refused
    `agents.agentexecutions` as "in another schema": only `public` was accepted."""
    from sqlalchemy.engine import make_url

    from aa_notebooks.db.engine import dispose_engine
    from aa_notebooks.db.setup import init_db
    from tests.conftest import drop_postgres_database, new_postgres_database

    plain, name = new_postgres_database()
    engine = create_engine(resolve_url(plain))
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE SCHEMA agents")
        connection.exec_driver_sql("CREATE SCHEMA other")
        connection.exec_driver_sql("CREATE TABLE other.agentexecutions (id int, user_id uuid)")
    engine.dispose()
    agents = make_url(plain).update_query_dict({"options": "-csearch_path=agents"})
    url = agents.render_as_string(hide_password=False)
    try:
        init_db(url)
        dataset.load(url)
        mine = connect(url, user_id=str(U1))
        for query, for_u1 in [
            ("SELECT count(*) AS n FROM agents.agentexecutions", 8),
            ("SELECT count(agents.agentexecutions.id) AS n FROM agents.agentexecutions", 8),
            ("SELECT count(*) AS n FROM agents.executiontraces t "
             "JOIN agents.agentexecutions a ON a.id = t.execution_id", 4),
            ("SELECT count(*) AS n FROM agentexecutions", 8),
        ]:  # fmt: skip
            assert mine.sql(query)["n"].tolist() == [for_u1], query
        with pytest.raises(RefusedQueryError, match="is in another schema"):
            mine.sql("SELECT count(*) AS n FROM other.agentexecutions")
    finally:
        dispose_engine(url)
        drop_postgres_database(plain, name)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sqlite_names_ignore_case_in_scope(url: str) -> None:
    """SQLite compares even quoted names without case (PostgreSQL refuses the name: above)."""
    mine = connect(url, user_id=str(U1))
    assert mine.sql('SELECT count(*) AS n FROM "AgentExecutions"')["n"].tolist() == [8]


# The notebook and the command line ------------------------------------------------------------


@pytest.fixture
def shell(url: str) -> Iterator[InteractiveShell]:
    """A real IPython shell with the extension, pointed at the dataset."""
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "aa_notebooks")
    ip.run_line_magic("config", f"AgentAnalytics.database_url = {url!r}")
    yield ip
    ip.run_line_magic("config", "AgentAnalytics.database_url = None")
    ip.run_line_magic("config", "AgentAnalytics.user_id = None")
    ip.user_ns.clear()


def test_magic_sql_is_scoped(shell: InteractiveShell, backend: str) -> None:
    shell.run_line_magic("config", f"AgentAnalytics.user_id = '{U1}'")
    shell.user_ns["wanted"] = "success"
    for query, for_u1, _ in scoped_queries(backend):
        frame = shell.run_cell_magic("agent_analytics", "sql", query)
        assert isinstance(frame, pd.DataFrame)
        assert frame["n"].tolist() == [for_u1], query
    frame = shell.run_cell_magic(
        "agent_analytics",
        "sql",
        "SELECT count(*) AS n FROM agentexecutions WHERE status = {wanted}",
    )
    assert frame["n"].tolist() == [8]
    with pytest.raises(RefusedQueryError, match="budgetspendledger is outside the user scope"):
        shell.run_cell_magic("agent_analytics", "sql", "SELECT * FROM budgetspendledger")
    shell.run_line_magic("config", f"AgentAnalytics.user_id = '{U2}'")
    frame = shell.run_cell_magic("agent_analytics", "sql", "SELECT count(*) AS n FROM users")
    assert frame["n"].tolist() == [1]
    frame = shell.run_cell_magic(
        "agent_analytics", "sql", "SELECT count(*) AS n FROM executiontraces"
    )
    assert frame["n"].tolist() == [2]


def test_cli_sql_is_scoped(url: str, backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    for query, for_u1, for_u2 in scoped_queries(backend):
        for user, expected in ((U1, for_u1), (U2, for_u2)):
            code = main(["--db", url, "--user", str(user), "sql", query, "--format", "json"])
            out, err = capsys.readouterr()
            assert code == 0, err
            assert json.loads(out) == [{"n": expected}], query
    code = main(["--db", url, "--user", str(U1), "sql", "SELECT * FROM aa_notebooks_meta"])
    out, err = capsys.readouterr()
    assert code != 0 and out == ""
    assert "refused: aa_notebooks_meta is outside the user scope" in err
    assert err.count("\n") == 1


def test_unscoped_cli_still_reads_everyone(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["--db", url, "sql", "SELECT count(*) AS n FROM agentexecutions", "--format", "json"]
    )
    assert code == 0 and json.loads(capsys.readouterr().out) == [{"n": 12}]


def test_analytics_fixture_scope_matches(analytics_u1: Analytics) -> None:
    """The shared fixture's scoped client (U1) agrees with the counts by hand."""
    assert analytics_u1.sql("SELECT count(*) AS n FROM agentexecutions")["n"].tolist() == [8]


@pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_scoped_postgres_calls_built_in_functions_only(url: str) -> None:
    """A function of the database's own (here one returning every execution) could read past
    the scope: a scoped session refuses it, an unscoped one runs it."""
    engine = create_engine(resolve_url(url))
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "CREATE FUNCTION all_runs() RETURNS SETOF agentexecutions LANGUAGE sql STABLE "
                "AS 'SELECT * FROM agentexecutions'"
            )
    finally:
        engine.dispose()
    query = "SELECT count(*) AS n FROM all_runs()"
    assert connect(url).sql(query)["n"].tolist() == [12]
    mine = connect(url, user_id=str(U1))
    with pytest.raises(RefusedQueryError, match=r"^refused: all_runs\(\) is not built into"):
        mine.sql(query)
    with pytest.raises(RefusedQueryError, match="reads the catalog or the server"):
        mine.sql("SELECT count(*) AS n FROM pg_stat_get_activity(NULL)")
    assert mine.sql("SELECT lower('A') AS a, pg_typeof(1)::text AS t").values.tolist() == [
        ["a", "integer"]
    ]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_scoped_sqlite_reads_json_each_and_a_cte_joined_without_its_columns(url: str) -> None:
    """SQLite's authorizer refused both in a scoped session (json_each reads the schema
    table's row ids as it is set up; a CTE joined without a column read is read as a whole),
    though the README lists json_each among what a scoped session may read."""
    mine = connect(url).scoped(U1)
    assert mine.sql("SELECT count(*) AS n FROM json_each('[1, 2, 3]')")["n"].tolist() == [3]
    joined = "WITH c AS (SELECT 1 AS x) SELECT count(*) AS n FROM c JOIN agentexecutions ON 1 = 1"
    assert mine.sql(joined)["n"].tolist() == [8]
    with pytest.raises(RefusedQueryError, match="sqlite_master is outside the user scope"):
        mine.sql("SELECT rowid FROM sqlite_master")


def test_scoped_sql_keeps_index_hints_and_samples_to_the_table(url: str, backend: str) -> None:
    """The walk into table nodes took SQLite's INDEXED BY index for a table outside the scope;
    a TABLESAMPLE was dropped with the table it sampled (PostgreSQL's SYSTEM (0) read all 8)."""
    mine = connect(url).scoped(U1)
    if backend == "sqlite":
        hinted = ("SELECT count(*) AS n FROM agentexecutions INDEXED BY "
                  "ix_agentexecutions_started_at_id WHERE started_at IS NOT NULL")  # fmt: skip
        assert mine.sql(hinted)["n"].tolist() == [8]
        return
    for percent, count in ((0, 0), (100, 8)):
        sampled = f"SELECT count(*) AS n FROM agentexecutions TABLESAMPLE SYSTEM ({percent})"
        assert mine.sql(sampled)["n"].tolist() == [count]
