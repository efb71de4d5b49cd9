"""The bulk fast path writes exactly what the ORM writes, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Table, inspect, select, text

from aa_notebooks.db.bulk import (
    bulk_insert_rows,
    insert_storage_rows,
    load_settings,
    rebuilt_indexes,
    rollback_journal,
    storage_timestamp,
    storage_uuid,
)
from aa_notebooks.db.engine import get_engine, session_factory
from aa_notebooks.db.repositories import AgentExecutionRepository
from aa_notebooks.db.schema import (
    AgentExecution,
    Base,
    BudgetAlert,
    BudgetAlertType,
    BudgetScope,
    ExecutionStatus,
    ExecutionTrace,
    ExecutionTraceStepType,
    TokenUsage,
    User,
)
from aa_notebooks.db.setup import init_db
from aa_notebooks.errors import InvalidInputError

USER_ID = uuid.UUID("0f3f0e4c-9b1d-4f57-8a0e-2d2b1c9e7a11")
EXECUTION_ID = uuid.UUID("019500aa-0000-7000-8000-000000000001")
STARTED = datetime(2025, 3, 1, 9, 30, 5, 120000, tzinfo=UTC)


def _execution(row_id: uuid.UUID) -> AgentExecution:
    return AgentExecution(
        id=row_id, user_id=USER_ID, request_id=uuid.UUID(int=1), session_id=uuid.UUID(int=2),
        agent_id=uuid.UUID(int=3), agent_name="it's <b>ok</b>", agent_type="react",
        model_name="gpt-4o", flow_id=None, status=ExecutionStatus.failure, input_tokens=1234,
        output_tokens=56, total_tokens=1290, cost_usd=Decimal("0.003645"),
        execution_time_ms=4321, llm_time_ms=1200, query_preview='say "hi"',
        error_type="RateLimitError", error_message="retry later", started_at=STARTED,
        completed_at=STARTED + timedelta(milliseconds=4321),
    )  # fmt: skip


def _trace(row_id: uuid.UUID) -> ExecutionTrace:
    return ExecutionTrace(
        id=row_id, execution_id=EXECUTION_ID, step_number=2,
        step_type=ExecutionTraceStepType.tool_call, content='search(q="x")', input_tokens=10,
        output_tokens=0, duration_ms=99, timestamp=datetime(2025, 3, 1, 9, 30, 6, tzinfo=UTC),
    )  # fmt: skip


def _usage(row_id: uuid.UUID) -> TokenUsage:
    return TokenUsage(
        id=row_id, execution_id=EXECUTION_ID, component="tool_call", model="gpt-4o-mini",
        input_tokens=1000, output_tokens=200, cost_usd=Decimal("0.000270"), step_number=2,
    )  # fmt: skip


def _budget(row_id: uuid.UUID) -> BudgetAlert:
    return BudgetAlert(
        id=row_id, user_id=USER_ID, scope=BudgetScope.global_, threshold_usd=Decimal("12.50"),
        period_days=30, alert_type=BudgetAlertType.hard_stop, alert_at_percentage=75,
        is_active=False, email_notification=True, current_spend_usd=Decimal("3.00"),
        name="all", target=None,
    )  # fmt: skip


def _add_parents(url: str, *rows: Base) -> None:
    """The user and execution the rows refer to, then the rows, through the ORM."""
    with session_factory(url)() as session:
        session.add(User(id=USER_ID, username="u"))
        session.flush()
        session.add(_execution(EXECUTION_ID))
        session.flush()
        session.add_all(rows)
        session.commit()


def _storage_value(value: Any) -> Any:
    """The storage form of a Python value, as `insert_storage_rows` documents it."""
    if isinstance(value, uuid.UUID):
        return storage_uuid(value)
    if isinstance(value, datetime):
        return storage_timestamp(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, BudgetScope | BudgetAlertType | ExecutionStatus | ExecutionTraceStepType):
        return value.value
    return value


def _columns(table: Table) -> list[str]:
    return [column.name for column in table.columns]


def _attributes(row: Base) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in inspect(row).mapper.column_attrs if c.key != "id"}


MAKERS = [_execution, _trace, _usage, _budget]


@pytest.mark.parametrize("make", MAKERS, ids=lambda make: make.__name__.strip("_"))
def test_fast_path_row_reads_back_like_an_orm_row(db_url: str, make) -> None:
    orm_id, fast_id = uuid.UUID(int=100), uuid.UUID(int=200)
    _add_parents(db_url, make(orm_id))
    template = make(fast_id)
    table = type(template).__table__
    columns = _columns(table)
    values = tuple(_storage_value(getattr(template, name)) for name in columns)
    with get_engine(db_url).begin() as connection:
        assert insert_storage_rows(connection, table, columns, [values]) == 1

    with session_factory(db_url)() as session:
        model = type(template)
        orm_row, fast_row = session.get(model, orm_id), session.get(model, fast_id)
        assert _attributes(fast_row) == _attributes(orm_row)
        assert fast_row.id == fast_id


def test_fast_path_stores_the_same_values_as_sqlalchemy_on_sqlite(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'raw.db'}"
    init_db(url)
    _add_parents(url)
    table = AgentExecution.__table__
    columns = _columns(table)
    template = _execution(uuid.UUID(int=7))
    values = tuple(_storage_value(getattr(template, name)) for name in columns)
    with get_engine(url).begin() as connection:
        insert_storage_rows(connection, table, columns, [values])
        raw = connection.execute(text("SELECT * FROM agentexecutions ORDER BY id")).all()
    fast, orm = (tuple(row)[1:] for row in raw)
    assert fast == orm
    assert storage_uuid(USER_ID) in fast and "2025-03-01 09:30:05.120000" in fast


def test_fast_path_writes_every_row_of_a_large_batch(db_url: str) -> None:
    rows = [(storage_uuid(uuid.UUID(int=n)), f"user{n}", None) for n in range(1, 1_235)]
    with get_engine(db_url).begin() as connection:
        written = insert_storage_rows(connection, User.__table__, ["id", "username", "email"], rows)
    with session_factory(db_url)() as session:
        stored = session.execute(select(User.id, User.username).order_by(User.id)).all()
    assert written == 1_234
    assert stored == [(uuid.UUID(int=n), f"user{n}") for n in range(1, 1_235)]


def test_storage_forms() -> None:
    value = uuid.UUID("019500aa-0000-7000-8000-00000000000f")
    assert storage_uuid(value) == storage_uuid(value.int) == value.hex
    assert storage_timestamp(datetime(2025, 1, 2, 3, 4, 5)) == "2025-01-02 03:04:05.000000"
    paris = datetime(2025, 1, 2, 5, 4, 5, 7, tzinfo=timezone(timedelta(hours=1)))
    assert storage_timestamp(paris) == "2025-01-02 04:04:05.000007"


def test_generic_path_counts_rows(db_url: str) -> None:
    rows = [{"id": uuid.UUID(int=n), "username": f"user{n}"} for n in range(1, 12_002)]
    with get_engine(db_url).begin() as connection:
        assert bulk_insert_rows(connection, User.__table__, rows) == 12_001
        stored = connection.execute(select(User.id)).all()
    assert len(stored) == 12_001


def _structure(url: str) -> dict[str, Any]:
    inspector = inspect(get_engine(url))
    tables = ("agentexecutions", "executiontraces", "tokenusages")
    return {
        table: (
            sorted((ix["name"], tuple(ix["column_names"])) for ix in inspector.get_indexes(table)),
            sorted(
                (fk["name"] or "", tuple(fk["constrained_columns"]), fk["referred_table"],
                 fk["options"].get("ondelete"))
                for fk in inspector.get_foreign_keys(table)
            ),
        )
        for table in tables
    }  # fmt: skip


@pytest.mark.parametrize("large", [False, True])
def test_rebuilt_indexes_come_back_as_they_were(db_url: str, backend: str, large: bool) -> None:
    """PostgreSQL drops them for any load, SQLite for a large one only."""
    before = _structure(db_url)
    tables = [AgentExecution.__table__, ExecutionTrace.__table__, TokenUsage.__table__]
    with (
        get_engine(db_url).connect() as connection,
        connection.begin(),
        rebuilt_indexes(connection, tables, large=large),
    ):
        inside = inspect(connection).get_indexes("agentexecutions")
        assert bool(inside) == (backend == "sqlite" and not large)
        connection.execute(User.__table__.insert().values(id=USER_ID, username="u"))
        connection.execute(AgentExecution.__table__.insert().values(
            id=EXECUTION_ID, user_id=USER_ID, request_id=EXECUTION_ID,
            session_id=EXECUTION_ID, status="success",
        ))  # fmt: skip
    assert _structure(db_url) == before
    indexes, foreign_keys = before["executiontraces"]
    assert indexes and foreign_keys[0][2:] == ("agentexecutions", "CASCADE")


def test_a_failed_large_load_keeps_the_indexes(db_url: str) -> None:
    """The indexes are dropped in the load's transaction: when it fails, they are back."""
    before = _structure(db_url)
    tables = [AgentExecution.__table__, ExecutionTrace.__table__, TokenUsage.__table__]
    with (
        pytest.raises(RuntimeError),
        get_engine(db_url).connect() as connection,
        connection.begin(),
        rebuilt_indexes(connection, tables, large=True),
    ):
        assert inspect(connection).get_indexes("agentexecutions") == []
        raise RuntimeError("the load failed")
    assert _structure(db_url) == before


def test_load_settings_are_restored_on_sqlite(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'pragmas.db'}"
    init_db(url)
    with get_engine(url).connect() as connection:
        raw = connection.connection.driver_connection
        with load_settings(connection):
            assert raw.execute("PRAGMA foreign_keys").fetchone() == (0,)
        assert raw.execute("PRAGMA foreign_keys").fetchone() == (1,)
        assert raw.execute("PRAGMA cache_size").fetchone() == (-2000,)


def test_a_big_load_writes_with_the_rollback_journal_and_no_wal(tmp_path) -> None:
    """8 MB written in one transaction: with the rollback journal, the WAL file gains nothing
    and the database is in WAL again afterwards; without it, the WAL holds the 8 MB."""

    def load(wanted: bool) -> tuple[bool, int]:
        path = tmp_path / f"journal-{wanted}.db"
        url, wal = f"sqlite:///{path}", path.with_name(path.name + "-wal")
        init_db(url)
        with get_engine(url).connect() as connection:
            with rollback_journal(connection, wanted) as switched:
                with connection.begin():
                    connection.execute(text("CREATE TABLE filler (x BLOB)"))
                    for _ in range(8):
                        connection.execute(text("INSERT INTO filler VALUES (randomblob(1048576))"))
                in_wal = wal.stat().st_size if wal.exists() else 0  # committed, not checkpointed
            raw = connection.connection.driver_connection
            assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            return switched, in_wal

    switched, in_wal = load(True)
    assert switched and in_wal == 0
    switched, in_wal = load(False)
    assert not switched and in_wal > 8 * 1_048_576


def test_the_rollback_journal_waits_for_no_one(tmp_path) -> None:
    """Another connection in a read transaction keeps the database in WAL: the load goes on."""
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    init_db(url)
    engine = get_engine(url)
    with engine.connect() as reader, engine.connect() as writer:
        reader.exec_driver_sql("BEGIN")
        reader.exec_driver_sql("SELECT count(*) FROM agentexecutions").fetchall()
        with rollback_journal(writer, True) as switched:
            assert not switched
        raw = writer.connection.driver_connection
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        reader.rollback()


def test_repository_bulk_insert_accepts_rows_of_different_shapes(db_url: str) -> None:
    """One record with error fields and one without: the chunk is sent with one shape."""
    from aa_notebooks.db.engine import session_factory
    from aa_notebooks.db.records import AgentExecutionCreate
    from aa_notebooks.db.repositories import AgentExecutionRepository

    records = [
        AgentExecutionCreate(status="failure", error_type="ToolError", error_message="boom"),
        AgentExecutionCreate(status="success", agent_name="planner"),
    ]
    with session_factory(db_url)() as session:
        repo = AgentExecutionRepository(session)
        assert repo.bulk_insert(records) == 2
        stored = {row.status.value: row for row in repo.list()}
    assert (stored["failure"].error_type, stored["failure"].agent_name) == ("ToolError", None)
    assert (stored["success"].error_type, stored["success"].agent_name) == (None, "planner")


# --- Range checks: a value one past what the column holds is refused on every path, never wrapped.

INTEGER_MAX = 2**31 - 1
PAST = [pytest.param(2**31, id="2^31"), pytest.param(5_000_000_000, id="5e9"),
        pytest.param(-1, id="negative")]  # fmt: skip


def _usage_row(**fields: Any) -> dict[str, Any]:
    return {"id": uuid.uuid4(), "execution_id": EXECUTION_ID, "component": "main_agent",
            "model": "gpt-4o", "input_tokens": 10, "output_tokens": 5,
            "cost_usd": Decimal("0.000075"), "step_number": 1, **fields}  # fmt: skip


def _stored_usages(url: str) -> list[tuple[int, int]]:
    with get_engine(url).connect() as connection:
        query = select(TokenUsage.input_tokens, TokenUsage.output_tokens)
        return [tuple(row) for row in connection.execute(query)]


@pytest.fixture
def with_execution(db_url: str) -> str:
    """The test database holding the execution the usage rows belong to."""
    with session_factory(db_url)() as session:
        session.add(User(id=USER_ID))
        session.flush()
        session.add(_execution(EXECUTION_ID))
        session.commit()
    return db_url


def _bulk_dicts(connection: Any, row: dict[str, Any]) -> None:
    bulk_insert_rows(connection, TokenUsage.__table__, [row])


def _stored_form(connection: Any, row: dict[str, Any]) -> tuple[Any, ...]:
    """A row as `insert_storage_rows` takes it (COPY takes the Python values as they are)."""
    if connection.dialect.name == "postgresql":
        return tuple(row.values())
    return tuple(
        storage_uuid(v) if isinstance(v, uuid.UUID) else float(v) if isinstance(v, Decimal) else v
        for v in row.values()
    )


def _storage_list(connection: Any, row: dict[str, Any]) -> None:
    insert_storage_rows(
        connection, TokenUsage.__table__, list(row), [_stored_form(connection, row)]
    )


def _storage_iterator(connection: Any, row: dict[str, Any]) -> None:
    rows = iter([_stored_form(connection, _usage_row()), _stored_form(connection, row)])
    insert_storage_rows(connection, TokenUsage.__table__, list(row), rows)


def _tracker_new(connection: Any, row: dict[str, Any]) -> None:
    from aa_notebooks.tracking.insert import insert_new

    insert_new(connection, TokenUsage.__table__, [_usage_row(), row])


def _tracker_rows(connection: Any, row: dict[str, Any]) -> None:
    from aa_notebooks.tracking.insert import insert_rows  # binary COPY on PostgreSQL

    insert_rows(connection, TokenUsage.__table__, [_usage_row(), row])


PATHS = [_bulk_dicts, _storage_list, _storage_iterator, _tracker_new, _tracker_rows]


@pytest.mark.parametrize("path", PATHS, ids=lambda path: path.__name__.strip("_"))
@pytest.mark.parametrize("value", PAST)
def test_a_count_past_the_column_is_refused_not_wrapped(
    with_execution: str, path: Any, value: int
) -> None:
    with (
        get_engine(with_execution).begin() as connection,
        pytest.raises(InvalidInputError) as refused,
    ):
        path(connection, _usage_row(input_tokens=value))
    assert str(refused.value) == (
        f"tokenusages.input_tokens = {value} is out of range: its column is INTEGER, which holds "
        f"0 to {INTEGER_MAX} here; the value is refused, not wrapped"
    )
    assert _stored_usages(with_execution) == []


@pytest.mark.parametrize("path", PATHS, ids=lambda path: path.__name__.strip("_"))
def test_the_largest_count_is_stored_exactly(with_execution: str, path: Any) -> None:
    with get_engine(with_execution).begin() as connection:
        path(connection, _usage_row(input_tokens=INTEGER_MAX, output_tokens=0))
    assert (INTEGER_MAX, 0) in _stored_usages(with_execution)


@pytest.mark.parametrize("value", PAST)
def test_the_repositories_refuse_a_count_past_the_column(db_url: str, value: int) -> None:
    with session_factory(db_url)() as session:
        repository = AgentExecutionRepository(session)
        refusal = r"invalid execution: output_tokens: Input should be \w+ than or equal to \S+"
        refusal += f", got {value}$"
        with pytest.raises(InvalidInputError, match=refusal):
            repository.create({"status": "success", "output_tokens": value})
        with pytest.raises(InvalidInputError, match=f"agentexecutions.output_tokens = {value}"):
            repository.bulk_insert([{"id": uuid.uuid4(), "request_id": uuid.uuid4(),
                                     "session_id": uuid.uuid4(), "status": "success",
                                     "output_tokens": value}], validate=False)  # fmt: skip
        assert session.scalars(select(AgentExecution)).all() == []


def test_a_cost_past_numeric_10_6_is_refused(with_execution: str) -> None:
    with get_engine(with_execution).begin() as connection, pytest.raises(
        InvalidInputError, match=r"tokenusages.cost_usd = 10000 is out of range: its column is "
        r"NUMERIC\(10,6\), which holds -9999.999999 to 9999.999999"
    ):  # fmt: skip
        _tracker_rows(connection, _usage_row(cost_usd=Decimal(10000)))
