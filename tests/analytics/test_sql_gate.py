"""The parser gate alone: what it refuses (with the message) and what it lets through, per dialect.

The databases' side (the target untouched) is in test_sql_refusals.py; these cases need none.
"""

from __future__ import annotations

import pytest

from aa_notebooks.analytics.sql_gate import check_query
from aa_notebooks.errors import InvalidInputError, RefusedQueryError

BOTH = ("postgres", "sqlite")

REFUSED = [
    ("postgres", "COPY (SELECT 1) TO PROGRAM 'id > /tmp/x'", "COPY reads or writes files"),
    ("postgres", "COPY agentexecutions TO '/tmp/x.csv'", "COPY reads or writes files"),
    ("postgres", "SELECT lo_export(lo_from_bytea(0, 'x'), '/tmp/x')", "lo_export() reads"),
    ("postgres", "SELECT lo_export(1, '/tmp/x')", "lo_export() reads or writes large objects"),
    ("postgres", "SELECT pg_read_file('/etc/passwd')", "pg_read_file() reads files"),
    ("postgres", "SELECT pg_catalog.pg_read_binary_file('/etc/passwd')", "reads files"),
    ("postgres", "SELECT * FROM pg_ls_dir('/')", "pg_ls_dir() reads files"),
    ("postgres", "SELECT pg_terminate_backend(123)", "pg_terminate_backend() stops other"),
    ("postgres", "SELECT pg_cancel_backend(123)", "pg_cancel_backend() stops other"),
    ("postgres", "SELECT dblink_exec('dbname=x', 'DELETE FROM t')", "dblink_exec() opens"),
    ("postgres", "SELECT * FROM dblink('dbname=x', 'SELECT 1') AS t(a int)", "dblink() opens"),
    ("postgres", "SELECT pg_reload_conf()", "pg_reload_conf() changes the server"),
    ("postgres", "SELECT set_config('statement_timeout', '0', false)", "set_config() changes"),
    ("postgres", "SELECT nextval('s')", "nextval() moves sequences"),
    ("postgres", "SELECT setval('s', 10)", "setval() moves sequences"),
    ("postgres", "SELECT pg_advisory_lock(42)", "pg_advisory_lock() takes advisory locks"),
    ("postgres", "SELECT pg_try_advisory_xact_lock(42)", "takes advisory locks"),
    ("postgres", "SELECT pg_notify('c', 'x')", "pg_notify() signals other sessions"),
    ("postgres", "SELECT query_to_xml('SELECT 1', true, false, '')", "query_to_xml() runs a"),
    ("postgres", "SELECT table_to_xml('users', true, false, '')", "table_to_xml() runs a"),
    ("postgres", "SELECT pg_sleep(60)", "pg_sleep() longer than 5 s"),
    ("postgres", "SELECT pg_sleep(n) FROM (SELECT 1 AS n) AS t", "pg_sleep() longer than 5 s"),
    ("postgres", "SELECT pg_switch_wal()", "pg_switch_wal() controls replication"),
    ("postgres", "SELECT pg_create_physical_replication_slot('s')", "controls replication"),
    ("postgres", "SELECT pg_backup_start('x')", "controls replication, WAL or backups"),
    ("postgres", "SET statement_timeout = 0", "SET changes session settings"),
    ("postgres", "SHOW ALL", "SHOW is not a SELECT"),
    ("postgres", "DO $$ BEGIN PERFORM 1; END $$", "DO runs procedural code"),
    ("postgres", "CALL refresh()", "CALL runs a procedure"),
    ("postgres", "EXPLAIN ANALYZE DELETE FROM agentexecutions", "EXPLAIN ANALYZE runs"),
    ("postgres", "NOTIFY channel", "is not a SELECT"),
    ("postgres", "SELECT * FROM agentexecutions FOR UPDATE", "FOR UPDATE/FOR SHARE takes row"),
    ("postgres", "SELECT * FROM agentexecutions FOR SHARE", "FOR UPDATE/FOR SHARE takes row"),
    # What PostgreSQL reads as a string then a call: the gate must see the call too.
    ("postgres", "SELECT 'a\\', pg_read_file('/etc/passwd') --'", "pg_read_file() reads"),
    ("postgres", "SELECT $1", "placeholder $1 is not supported"),
    ("sqlite", "ATTACH DATABASE '/tmp/x.db' AS x", "ATTACH opens (or creates) another"),
    ("sqlite", "DETACH DATABASE x", "DETACH changes"),
    ("sqlite", "VACUUM INTO '/tmp/copy.db'", "VACUUM rewrites the database"),
    ("sqlite", "VACUUM", "VACUUM rewrites the database"),
    ("sqlite", "PRAGMA journal_mode=DELETE", "PRAGMA journal_mode can change the database"),
    ("sqlite", "PRAGMA journal_mode", "PRAGMA journal_mode can change the database"),
    ("sqlite", "PRAGMA writable_schema = 1", "PRAGMA writable_schema can change"),
    ("sqlite", "PRAGMA table_info = agentexecutions", "PRAGMA table_info = value sets"),
    ("sqlite", "SELECT * FROM pragma_journal_mode('delete')", "pragma_journal_mode runs"),
    ("sqlite", "SELECT * FROM pragma_journal_mode", "pragma_journal_mode runs PRAGMA"),
    ("sqlite", "SELECT load_extension('/tmp/evil.so')", "load_extension() loads native"),
    ("sqlite", "SELECT writefile('/tmp/x', 'data')", "writefile() writes files"),
    ("sqlite", "SELECT readfile('/etc/passwd')", "readfile() reads files"),
    ("sqlite", "SELECT fts3_tokenizer('simple')", "fts3_tokenizer() registers native"),
    ("sqlite", "SELECT ?", "placeholder ? is not supported"),
    ("sqlite", "REINDEX", "REINDEX rewrites indexes"),
    ("sqlite", "ANALYZE", "ANALYZE writes statistics"),
] + [
    (dialect, query, reason)
    for dialect in BOTH
    for query, reason in [
        ("DELETE FROM agentexecutions", "DELETE changes data"),
        ("UPDATE agentexecutions SET cost_usd = 0", "UPDATE changes data"),
        ("INSERT INTO users (id) VALUES ('x')", "INSERT changes data"),
        ("DROP TABLE tokenusages", "DROP changes the schema"),
        ("CREATE TABLE t (a int)", "CREATE changes the schema"),
        ("ALTER TABLE users ADD COLUMN x int", "ALTER changes the schema"),
        ("WITH gone AS (DELETE FROM agentexecutions RETURNING id) SELECT count(*) FROM gone",
         "DELETE changes data"),
        ("SELECT * FROM (WITH x AS (UPDATE users SET email = '' RETURNING id) SELECT * FROM x)"
         " AS t", "UPDATE changes data"),
        ("SELECT * INTO stolen FROM agentexecutions", "SELECT ... INTO creates a table"),
        ("SELECT 1; DELETE FROM agentexecutions", "2 statements were given"),
        ("SELECT 1; SELECT 2", "2 statements were given"),
        ("COMMIT; DELETE FROM agentexecutions", "2 statements were given"),
        ("BEGIN", "BEGIN controls the transaction"),
        ("SELEC nothing", "is not a SELECT"),
        ("SELECT (", "could not be parsed"),
    ]
]  # fmt: skip


@pytest.mark.parametrize(("dialect", "query", "reason"), REFUSED)
def test_refused_with_a_line_naming_what(dialect: str, query: str, reason: str) -> None:
    with pytest.raises(RefusedQueryError) as refusal:
        check_query(query, dialect)  # type: ignore[arg-type]
    message = str(refusal.value)
    assert message.startswith("refused: ") and reason in message
    assert "\n" not in message
    assert "only one SELECT runs here" in message or "placeholder" in message


ACCEPTED = [
    (dialect, query)
    for dialect in BOTH
    for query in [
        "SELECT count(*) AS n FROM agentexecutions WHERE status = :status",
        "WITH t AS (SELECT model_name, sum(cost_usd) AS c FROM agentexecutions GROUP BY 1) "
        "SELECT * FROM t ORDER BY c DESC",
        "SELECT agent_name, row_number() OVER (PARTITION BY agent_name ORDER BY started_at) "
        "FROM agentexecutions",
        "SELECT 1 UNION ALL SELECT 2 EXCEPT SELECT 3",
        "VALUES (1, 'a'), (2, 'b')",
        "(SELECT 1)",
        "SELECT random()",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) "
        "SELECT sum(n) FROM r",
        "SELECT 'COPY (SELECT 1) TO PROGRAM ''id''' AS text_only",
    ]
] + [
    ("postgres", "SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY execution_time_ms) "
                 "FROM agentexecutions"),
    ("postgres", "SELECT pg_sleep(0.1), clock_timestamp(), gen_random_uuid(), timeofday()"),
    ("postgres", "SELECT started_at::date AS day FROM agentexecutions "
                 "WHERE started_at > now() - interval '7 days'"),
    ("postgres", "TABLE agentexecutions"),
    ("sqlite", "PRAGMA table_info(agentexecutions)"),
    ("sqlite", "PRAGMA main.index_list('agentexecutions')"),
    ("sqlite", "SELECT name FROM pragma_table_info('agentexecutions')"),
    ("sqlite", "SELECT value FROM json_each('[1, 2]')"),
]  # fmt: skip


@pytest.mark.parametrize(("dialect", "query"), ACCEPTED)
def test_plain_selects_pass(dialect: str, query: str) -> None:
    checked = check_query(query, dialect)  # type: ignore[arg-type]
    assert checked.render()


def test_what_runs_is_what_was_checked() -> None:
    """Comments are dropped and the statement is rendered from the tree, so text the parser
    saw as a comment or a string cannot reach the database as code."""
    checked = check_query("SELECT 1 AS one /* ; DROP TABLE users */ -- ; DELETE", "postgres")
    assert checked.render() == "SELECT 1 AS one"
    checked = check_query("SELECT x FROM t WHERE a = :a AND b = :b", "postgres")
    assert checked.render() == "SELECT x FROM t WHERE a = :a AND b = :b"
    assert (
        check_query("PRAGMA table_info(users)", "sqlite").render() == 'PRAGMA table_info("users")'
    )


@pytest.mark.parametrize("dialect", BOTH)
def test_an_empty_query_says_so(dialect: str) -> None:
    for query in ("", "   ", ";;", "-- only a comment"):
        with pytest.raises(InvalidInputError, match="the query is empty"):
            check_query(query, dialect)  # type: ignore[arg-type]
