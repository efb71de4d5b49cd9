"""Rows changed behind the rollups (a cascade delete) are marked and rebuilt; `rollups check`
finds a hand-corrupted rollup row; a rebuild gives what the write paths gave; seeding, an older
kit database and an attached AgentOS database (`rollups enable`) get them filled."""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Connection, create_engine, inspect, make_url, select, text

from aa_notebooks.analytics import connect
from aa_notebooks.cli import main
from aa_notebooks.db.engine import dispose_engine, get_engine
from aa_notebooks.db.migrations import migrate
from aa_notebooks.db.rollups import rebuild, setup, state
from aa_notebooks.db.rollups.check import check_rollups
from aa_notebooks.db.rollups.rebuild import rebuild_rollups
from aa_notebooks.db.rollups.record import LATENCY_SUMS
from aa_notebooks.db.rollups.sketch import RELATIVE_ACCURACY, Sketch
from aa_notebooks.db.rollups.state import forget, has_rollups
from aa_notebooks.db.schema import (
    TOTAL_ROLLUP_TABLES,
    AgentExecution,
    ExecutionRollupDay,
    ExecutionRollupHour,
)
from aa_notebooks.db.setup import init_db
from aa_notebooks.errors import StoredValueError
from aa_notebooks.seed import seed_database
from aa_notebooks.tracking.store import write_batch
from tests.conftest import drop_postgres_database, new_postgres_database
from tests.db.rollups.helpers import (
    ALICE,
    BOB,
    TABLES,
    cache_rollup,
    dirty_hours,
    execution,
    execution_rollup,
    latency_rollup,
    latency_sums,
    total_sums,
    usage_rollup,
)
from tests.db.rollups.test_record import at, write_boundary_rows

DDL = Path(__file__).parents[1] / "document_ddl.sql"


def _everything(url: str) -> dict[str, list[tuple]]:
    """Every rollup row, sketches as counts, in key order."""
    found = {}
    with get_engine(url).connect() as connection:
        for name, table in TABLES.items():
            rows = connection.execute(select(table).order_by(table.c.bucket, table.c.dims_key))
            found[name] = [
                tuple(Sketch.decode([v]).counts if isinstance(v, bytes | memoryview) else v
                      for v in row)
                for row in rows
            ]  # fmt: skip
    return found


def test_a_rebuild_gives_what_the_write_paths_gave(db_url: str) -> None:
    write_boundary_rows(db_url)
    write_batch(get_engine(db_url), [
        execution(at(9, 15), usages=(("claude", 40, 4, "0.000200"), ("gpt-4o", 1, 1, "0.1"))),
    ])  # fmt: skip
    before = _everything(db_url)
    assert [len(rows) for rows in before.values()] == [6, 4, 1, 1, 5, 3, 2, 2, 5, 2]
    report = rebuild_rollups(get_engine(db_url))
    assert (report.days, report.hour_rows, report.day_rows) == (2, 6, 4)
    assert _everything(db_url) == before


def test_a_cascade_delete_marks_its_hour_until_a_rebuild(db_url: str) -> None:
    engine = get_engine(db_url)
    gone = execution(at(9, 15), usages=(("claude", 40, 4, "0.000200"),))
    write_batch(engine, [gone, execution(at(9, 45), time_ms=20, tokens=(1, 1), cost="0.000002")])
    with engine.begin() as connection:
        connection.execute(AgentExecution.__table__.delete().where(AgentExecution.id == gone.id))
    assert dirty_hours(db_url) == [at(9)]
    report = check_rollups(engine)
    assert report.ok and report.dirty_hours == 1  # known to differ: read raw, not compared
    rebuild_rollups(engine)
    assert dirty_hours(db_url) == []
    assert execution_rollup(db_url) == {
        (at(9), "researcher", "gpt-4o", "success"): (1, 1, 20, 1, 1, 2, 1)
    }
    assert usage_rollup(db_url) == {}
    assert check_rollups(engine).ok


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_an_insert_or_replace_marks_the_hour_of_the_row_it_replaces(db_url: str) -> None:
    """SQLite's REPLACE deletes the old row without firing delete triggers: another program
    re-sending an execution (moved to 11:05, $3) and a usage row (to $2) left the old hour's
    rollups counting them, so every total counted them twice."""
    engine = get_engine(db_url)
    moved = execution(at(9, 15))
    kept = execution(at(9, 45), cost="0.000002", usages=(("claude", 40, 4, "0.000001"),))
    write_batch(engine, [moved, kept])
    analytics = connect(db_url)
    window = {"start_date": "2024-06-01", "end_date": "2024-06-01"}
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT OR REPLACE INTO agentexecutions (id, request_id, session_id, agent_name, "
            "model_name, status, cost_usd, started_at) VALUES (?, ?, ?, 'researcher', "
            "'gpt-4o', 'success', 3, '2024-06-01 11:05:00.000000')",
            (moved.id.hex, moved.id.hex, moved.id.hex),
        )
    assert dirty_hours(db_url) == [at(9), at(11)]
    for exact in (True, False):
        overview = analytics.overview(**window, exact=exact)
        assert (overview.total_executions, overview.total_cost_usd) == (2, Decimal("3.000002"))

    rebuild_rollups(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT OR REPLACE INTO tokenusages (id, execution_id, component, model, "
            "input_tokens, output_tokens, cost_usd) SELECT id, execution_id, component, model, "
            "input_tokens, output_tokens, 2 FROM tokenusages WHERE execution_id = ?",
            (kept.id.hex,),
        )
    assert dirty_hours(db_url) == [at(9)]
    for exact in (True, False):
        frame = analytics.cost_summary(**window, by="model", exact=exact).frame
        assert dict(zip(frame["model"], frame["cost_usd"], strict=True))["claude"] == Decimal(2)


def test_an_earlier_releases_writer_beside_this_one_has_its_hours_marked(db_url: str) -> None:
    """A writer of an earlier release (a fleet upgraded one host at a time) declared itself as
    a rollup writer the old way ('on', id 1) and kept only the rollups it knew: the overview
    read the newer rollups short (100 of 250 executions). Its rows are now marked like any
    other program's."""
    engine = get_engine(db_url)
    write_batch(engine, [execution(at(9, 15))])
    late = uuid.UUID("0191f1d2-0000-7000-8000-00000000000a")
    with engine.begin() as connection:  # what that writer's transaction did, less its rollups
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            connection.exec_driver_sql(
                "SELECT set_config('aa_notebooks.rollup_writer', 'on', true)"
            )
        else:
            connection.exec_driver_sql("INSERT INTO rollup_writing (id) VALUES (1)")
        connection.execute(
            text(
                "INSERT INTO agentexecutions (id, request_id, session_id, agent_name, "
                "model_name, status, cost_usd, execution_time_ms, started_at) VALUES (:id, :id, "
                ":id, 'researcher', 'gpt-4o', 'success', 2, 300, '2024-06-01 11:05:00')"
            ),
            {"id": late if postgres else late.hex},
        )
        connection.exec_driver_sql("DELETE FROM rollup_writing")
    assert dirty_hours(db_url) == [at(11)]
    overview = connect(db_url).overview(start_date="2024-06-01", end_date="2024-06-01")
    assert (overview.total_executions, overview.total_cost_usd) == (2, Decimal("2.001000"))


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_triggers_of_an_earlier_release_let_this_ones_writer_through(db_url: str) -> None:
    """An AgentOS database keeps the triggers `rollups enable` installed until it runs again:
    they looked for 'on', this release's writer said '2', and every hour it wrote was marked
    and read raw."""
    engine = get_engine(db_url)
    with engine.begin() as connection:
        for kind in ("executions", "usages"):
            definition = connection.exec_driver_sql(
                f"SELECT pg_get_functiondef('aa_rollup_mark_{kind}'::regproc)"
            ).scalar_one()
            earlier = definition.replace(
                "current_setting('aa_notebooks.rollup_writer_version', true) = '2'",
                "current_setting('aa_notebooks.rollup_writer', true) = 'on'",
            )
            assert earlier != definition
            connection.exec_driver_sql(earlier)
    write_batch(engine, [execution(at(9, 15), usages=(("claude", 40, 4, "0.000001"),))])
    assert dirty_hours(db_url) == []


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_database_from_before_gets_triggers_that_check_the_writers_release(db_url: str) -> None:
    engine = get_engine(db_url)
    with engine.begin() as connection:  # the insert trigger as the previous release made it
        sql = connection.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE name = 'aa_rollup_executions_insert'"
        ).scalar_one()
        assert "FROM rollup_writing WHERE id = 2)" in sql
        connection.exec_driver_sql("DROP TRIGGER aa_rollup_executions_insert")
        connection.exec_driver_sql(sql.replace(" WHERE id = 2)", ")"))
        connection.exec_driver_sql(
            "DELETE FROM aa_notebooks_migrations WHERE name = 'rollup_writer_version'"
        )
    assert init_db(db_url).migrations == ["rollup_writer_version"]
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO rollup_writing (id) VALUES (1)")
        connection.exec_driver_sql(
            "INSERT INTO agentexecutions (id, request_id, session_id, status, started_at) "
            "VALUES ('a', 'a', 'a', 'success', '2024-06-01 11:05:00')"
        )
        connection.exec_driver_sql("DELETE FROM rollup_writing")
    assert dirty_hours(db_url) == [at(11)]


def test_a_rebuild_refuses_a_database_a_newer_release_set_up(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An earlier release's `rollups rebuild`, run by cron on a host not yet upgraded, rewrote
    only the rollups it knew and cleared the marks: the newer ones were trusted, and the
    overview read 0 executions where SQL says 70. This release records its rollup format and
    will refuse, in its turn, a database that a later one set up."""
    engine = get_engine(db_url)
    read = "SELECT value FROM aa_notebooks_meta WHERE key = 'rollup_format'"
    with engine.connect() as connection:
        assert connection.exec_driver_sql(read).scalar_one() == "2"
    write_batch(engine, [execution(at(9, 15))])
    with engine.begin() as connection:  # as the release after this one leaves it
        connection.exec_driver_sql(
            "UPDATE aa_notebooks_meta SET value = '3' WHERE key = 'rollup_format'"
        )
        connection.exec_driver_sql("DELETE FROM agentexecutions")
    assert init_db(db_url).migrations == []  # never lowered
    with engine.connect() as connection:
        assert connection.exec_driver_sql(read).scalar_one() == "3"
    assert main(["--db", db_url, "rollups", "rebuild", "--no-progress"]) == 2
    assert capsys.readouterr().err == (
        "aa-notebooks: error: this database's rollups are of a newer aa-notebooks (rollup "
        "format 3; this one knows 2): a rebuild from here would leave the newer rollups wrong. "
        "Upgrade aa-notebooks on this host, or run the rebuild where it is upgraded\n"
    )
    assert dirty_hours(db_url) == [at(9)]  # still marked: still read raw


def test_a_rebuild_of_recent_days_repairs_older_marked_hours_too(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's scheduled `rebuild --since yesterday` left a late row's older hour marked,
    and read raw, for ever (2,160 such hours made a 90-day refresh 0.2 -> 28 s); `check
    --since` did not mention them."""
    write_boundary_rows(db_url)
    engine = get_engine(db_url)
    late = execution(at(9, 15))  # a late row of the first day, by plain SQL (not the writer)
    with engine.begin() as connection:
        connection.execute(AgentExecution.__table__.insert().values(late.execution))
    assert dirty_hours(db_url) == [at(9)]
    assert main(["--db", db_url, "rollups", "check", "--since", "2024-06-02"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == (
        "1 more hour(s) outside these days changed behind the rollups and are read raw "
        "(slower) until `aa-notebooks rollups rebuild`, which recomputes them whatever its --since"
    )
    assert main(["--db", db_url, "rollups", "rebuild", "--since", "2024-06-02"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "rebuilt the rollups of 2 day(s): 6 hourly and 4 daily rows of executions (1 of the days "
        "outside the window: they held rows changed behind the rollups)"
    )  # 2024-06-02 asked; 2024-06-01 for its marked hour (5 + 1 hourly rows, as before + 9:00)
    assert dirty_hours(db_url) == []
    assert check_rollups(engine).ok


def test_check_finds_a_corrupted_row_and_rebuild_repairs_it(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write_boundary_rows(db_url)
    assert main(["--db", db_url, "rollups", "check"]) == 0
    with get_engine(db_url).begin() as connection:
        connection.execute(
            text(
                "UPDATE rollup_executions_hour SET cost_micro_usd = cost_micro_usd + 1 "
                "WHERE agent_name = 'writer' AND model_name = 'claude' AND time_sum = 50"
            )
        )
    report = check_rollups(get_engine(db_url))
    assert [str(d) for d in report.differences] == [
        "rollup_executions_hour 2024-06-01 23:00 (user_id=a11ce000-0000-4000-8000-000000000001, "
        "agent_name=writer, model_name=claude, status=success): cost_micro_usd stored 10001, "
        "raw 10000"
    ]
    capsys.readouterr()
    assert main(["--db", db_url, "rollups", "check", "--since", "2024-06-01"]) == 1
    shown = capsys.readouterr().out
    assert "1 differ" in shown
    assert "run `aa-notebooks rollups rebuild --since 2024-06-01`" in shown  # the day it differs
    assert main(["--db", db_url, "rollups", "rebuild", "--since", "2024-06-01"]) == 0
    assert "rebuilt the rollups of 2 day(s)" in capsys.readouterr().out
    assert check_rollups(get_engine(db_url)).ok


def test_check_and_rebuild_read_only_the_days_holding_data(db_url: str) -> None:
    """A stray run decades before the rest: two days are compared, not the 12,000 between (a
    check used to run for hours); a corrupted row on either is still found."""
    engine = get_engine(db_url)
    write_batch(engine, [
        execution(datetime(1991, 3, 4, 5), cost="0.250000"),
        execution(datetime(2024, 6, 1, 11), cost="0.001000"),
    ])  # fmt: skip
    report = check_rollups(engine)
    assert (report.ok, report.days) == (True, 2)
    with engine.begin() as connection:
        connection.execute(text("UPDATE rollup_executions_day SET executions = 2"))
    assert len(check_rollups(engine).differences) == 2
    assert rebuild_rollups(engine).days == 2
    assert check_rollups(engine).ok


def test_a_run_stamped_on_the_last_day_a_datetime_holds_stops_no_rebuild(db_url: str) -> None:
    """A run of 9999-12-31 (a "never" sentinel another program wrote) made every rebuild and
    check fail with a bare OverflowError, --since or not, and so kept a marked hour beside it
    marked for ever: the day's end is past datetime.max. That day is left as it is; the days
    before are rebuilt and checked."""
    engine = get_engine(db_url)
    write_batch(engine, [execution(datetime(2024, 6, 1, 11), cost="0.001000")])
    with engine.begin() as connection:  # another program's rows: their hours are marked
        for started in (datetime(2024, 6, 2, 10), datetime(9999, 12, 31, 23)):
            connection.execute(AgentExecution.__table__.insert().values(
                id=uuid.uuid4(), request_id=uuid.uuid4(), session_id=uuid.uuid4(),
                agent_name="other", status="success", started_at=started,
            ))  # fmt: skip
        connection.execute(text("UPDATE rollup_executions_day SET executions = 2"))
    assert dirty_hours(db_url) == [datetime(2024, 6, 2, 10), datetime(9999, 12, 31, 23)]
    assert [str(d).split(" (")[0] for d in check_rollups(engine).differences] == [
        "rollup_executions_day 2024-06-01 00:00"
    ]
    assert (
        main(["--db", db_url, "rollups", "rebuild", "--no-progress", "--since", "2024-06-01"]) == 0
    )
    assert main(["--db", db_url, "rollups", "check"]) == 0
    assert dirty_hours(db_url) == [datetime(9999, 12, 31, 23)]


def test_check_finds_a_missing_row_and_a_changed_sketch(db_url: str) -> None:
    write_boundary_rows(db_url)
    hour, day = ExecutionRollupHour.__table__, ExecutionRollupDay.__table__
    with get_engine(db_url).begin() as connection:
        connection.execute(hour.delete().where(hour.c.time_sum == 70))
        connection.execute(
            day.update().where(day.c.time_sum == 400).values(latency_sketch=Sketch.of([5]).encode())
        )
    found = sorted(str(d) for d in check_rollups(get_engine(db_url)).differences)
    assert len(found) == 2
    assert found[0].startswith("rollup_executions_day 2024-06-01 00:00") and found[0].endswith(
        "latency_sketch stored 1 values in 1 buckets, raw 2 values in 2 buckets"
    )
    assert found[1].startswith("rollup_executions_hour 2024-06-02 00:00")
    assert found[1].endswith(": missing")


def test_check_finds_a_latency_row_whose_statuses_are_wrong(db_url: str) -> None:
    write_boundary_rows(db_url)
    with get_engine(db_url).begin() as connection:
        connection.execute(
            text(
                "UPDATE rollup_latency_day SET failure_executions = 0, "
                "success_executions = success_executions + 1 WHERE model_name = 'gpt-4o'"
            )
        )
    [difference] = check_rollups(get_engine(db_url)).differences
    assert str(difference) == (
        "rollup_latency_day 2024-06-01 00:00 (user_id=a11ce000-0000-4000-8000-000000000001, "
        "agent_name=researcher, model_name=gpt-4o): success_executions stored 3, raw 2; "
        "failure_executions stored 0, raw 1"
    )


def test_check_finds_a_total_row_whose_sums_or_sketch_are_wrong(db_url: str) -> None:
    write_boundary_rows(db_url)
    with get_engine(db_url).begin() as connection:
        connection.execute(text("UPDATE rollup_totals_day SET time_sum = time_sum + 5"))
        connection.execute(
            text("UPDATE rollup_totals_hour SET latency_sketch = :sketch WHERE time_sum = 70"),
            {"sketch": Sketch.of([70, 70]).encode()},
        )
    report = check_rollups(get_engine(db_url))
    assert sorted(str(difference) for difference in report.differences) == [
        "rollup_totals_day 2024-06-01 00:00 (user_id=a11ce000-0000-4000-8000-000000000001): "
        "time_sum stored 455, raw 450",
        "rollup_totals_day 2024-06-02 00:00 (user_id=a11ce000-0000-4000-8000-000000000001): "
        "time_sum stored 75, raw 70",
        "rollup_totals_hour 2024-06-02 00:00 (user_id=a11ce000-0000-4000-8000-000000000001): "
        "latency_sketch stored 2 values in 1 buckets, raw 1 values in 1 buckets",
    ]


def test_check_finds_a_row_whose_dimensions_were_changed(db_url: str) -> None:
    """Readers group by a rollup row's dimensions: a renamed agent or another user moves its
    sums to a group the raw rows do not have, which the check took as equal."""
    write_boundary_rows(db_url)
    with get_engine(db_url).begin() as connection:
        connection.execute(
            text("UPDATE rollup_latency_day SET agent_name = 'ghost' WHERE model_name = 'gpt-4o'")
        )
        connection.execute(
            text("UPDATE rollup_totals_day SET user_id = :bob WHERE time_sum = 70"),
            {"bob": BOB.hex if db_url.startswith("sqlite") else BOB},
        )
    report = check_rollups(get_engine(db_url))
    assert sorted(str(difference) for difference in report.differences) == [
        "rollup_latency_day 2024-06-01 00:00 (user_id=a11ce000-0000-4000-8000-000000000001, "
        "agent_name=ghost, model_name=gpt-4o): agent_name stored ghost, raw researcher",
        "rollup_totals_day 2024-06-02 00:00 (user_id=b0b00000-0000-4000-8000-000000000002): "
        f"user_id stored {BOB.hex}, raw {ALICE.hex}",
    ]
    rebuild_rollups(get_engine(db_url))
    assert check_rollups(get_engine(db_url)).ok


def test_a_sketch_that_cannot_be_read_is_a_difference_and_a_clear_error(db_url: str) -> None:
    write_boundary_rows(db_url)
    with get_engine(db_url).begin() as connection:
        connection.execute(
            text("UPDATE rollup_totals_day SET latency_sketch = :junk WHERE time_sum = 70"),
            {"junk": b"\xde\xad\xbe\xef\x01"},
        )
    [difference] = check_rollups(get_engine(db_url)).differences
    assert str(difference) == (
        "rollup_totals_day 2024-06-02 00:00 (user_id=a11ce000-0000-4000-8000-000000000001): "
        "latency_sketch stored unreadable, raw 1 values in 1 buckets"
    )
    with pytest.raises(StoredValueError) as unreadable:  # what a reader of it says
        Sketch.decode([b"\xde\xad\xbe\xef\x01"])
    assert str(unreadable.value) == (
        "a stored latency sketch is truncated (a rollup row changed by hand?): "
        "`aa-notebooks rollups rebuild` recomputes the rollups from the raw rows"
    )


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_text_in_the_durations_is_left_out_of_the_sketches_as_out_of_the_percentiles(
    db_url: str,
) -> None:
    """Another program's 'slow' in execution_time_ms failed `rollups rebuild` and `check`
    (the sketch aggregate's step), said to be a file that cannot be opened."""
    write_boundary_rows(db_url)
    with get_engine(db_url).begin() as connection:
        connection.execute(text("UPDATE agentexecutions SET execution_time_ms = 'slow' "
                                "WHERE execution_time_ms = 70"))  # fmt: skip
    assert rebuild_rollups(get_engine(db_url)).days == 2
    assert check_rollups(get_engine(db_url)).ok
    analytics = connect(db_url)
    window = {"start_date": "2024-06-01", "end_date": "2024-06-02"}
    rolled, exact = analytics.overview(**window), analytics.overview(**window, exact=True)
    assert (rolled.p50_ms, rolled.p95_ms) == (exact.p50_ms, exact.p95_ms)


def test_rollup_commands_refuse_a_database_without_them(
    empty_db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with get_engine(empty_db_url).begin() as connection:
        connection.exec_driver_sql("CREATE TABLE other (x INTEGER)")
    assert main(["--db", empty_db_url, "rollups", "check"]) == 2
    assert capsys.readouterr().err.strip() == (
        "aa-notebooks: error: this database has no rollup tables, or an earlier release's: run "
        "`aa-notebooks init-db` on the kit's own database, or `aa-notebooks rollups enable` on an "
        "attached AgentOS one"
    )


def test_an_older_kit_database_gets_them_filled(db_url: str) -> None:
    write_boundary_rows(db_url)
    expected = execution_rollup(db_url, "day")
    with get_engine(db_url).begin() as connection:
        for name in TABLES.values():
            connection.execute(text(f"DROP TABLE {name.name}"))
        connection.execute(text("DROP TABLE rollup_dirty_hours"))
        connection.execute(text("DELETE FROM aa_notebooks_migrations WHERE name = 'rollup_tables'"))
    forget(get_engine(db_url))
    assert "rollup_tables" in init_db(db_url).migrations
    assert execution_rollup(db_url, "day") == expected
    assert check_rollups(get_engine(db_url)).ok


def test_a_database_from_before_the_latency_rollups_gets_them_filled(db_url: str) -> None:
    write_boundary_rows(db_url)
    expected = latency_rollup(db_url, "latency_day")
    with get_engine(db_url).begin() as connection:
        connection.execute(text("DROP TABLE rollup_latency_hour"))
        connection.execute(text("DROP TABLE rollup_latency_day"))
        connection.execute(
            text("DELETE FROM aa_notebooks_migrations WHERE name = 'latency_rollups'")
        )
    forget(get_engine(db_url))
    assert not has_rollups(get_engine(db_url))  # writers and readers leave them until init-db
    forget(get_engine(db_url))
    assert init_db(db_url).migrations == ["latency_rollups"]
    assert latency_rollup(db_url, "latency_day") == expected
    assert len(expected) == 3
    assert check_rollups(get_engine(db_url)).ok


def drop_latency_sums(url: str) -> None:
    """Take the latency rollups back to an earlier release's: sketches without sums."""
    with get_engine(url).begin() as connection:
        for table in ("rollup_latency_hour", "rollup_latency_day"):
            for column in LATENCY_SUMS:
                connection.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
    forget(get_engine(url))


def test_a_database_from_before_the_latency_sums_gets_them_from_the_execution_rollups(
    db_url: str,
) -> None:
    """Filled from the execution rollups, not the raw rows: a corrupted execution rollup row
    (the 23:00 hour's cost) carries over to the latency rollups' sums, which shows where they
    came from; the sketches stay as they were."""
    _write_hand_rows(db_url)
    expected = {level: latency_sums(db_url, level) for level in ("latency_hour", "latency_day")}
    sketches = latency_rollup(db_url, "latency_hour")
    with get_engine(db_url).begin() as connection:
        connection.execute(
            text("DELETE FROM aa_notebooks_migrations WHERE name = 'latency_rollup_sums'")
        )
        connection.execute(
            text("UPDATE rollup_executions_hour SET cost_micro_usd = 7 WHERE time_sum = 50")
        )
    drop_latency_sums(db_url)
    assert not has_rollups(get_engine(db_url))  # readers take the raw rows until init-db
    shown = connect(db_url).overview(start_date="2024-06-01", end_date="2024-06-02")
    assert (shown.source, shown.total_executions, shown.total_cost_usd) == (
        "raw",
        6,
        Decimal("0.014504"),
    )
    assert init_db(db_url).migrations == ["latency_rollup_sums"]
    assert has_rollups(get_engine(db_url))  # init-db made this process look again
    shown = connect(db_url).overview(start_date="2024-06-01", end_date="2024-06-02")
    assert (shown.source, shown.total_executions) == ("rollup", 6)
    writer_hour = (at(23), "writer", "claude")
    assert expected["latency_hour"][writer_hour][-1] == 10_000
    expected["latency_hour"][writer_hour] = (*expected["latency_hour"][writer_hour][:-1], 7)
    assert latency_sums(db_url, "latency_hour") == expected["latency_hour"]
    assert latency_sums(db_url, "latency_day") == expected["latency_day"]
    assert latency_rollup(db_url, "latency_hour") == sketches
    differing = {d.table for d in check_rollups(get_engine(db_url)).differences}
    assert differing == {"rollup_executions_hour", "rollup_latency_hour"}


def test_a_latency_sums_migration_that_fails_leaves_the_database_as_it_was(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed while filling (after ALTER TABLE), the migration takes its columns back with it
    on both databases (SQLite's driver would commit ALTER TABLE at once outside a transaction
    begun first); the next init-db does it all."""
    _write_hand_rows(db_url)
    expected = latency_sums(db_url, "latency_day")
    with get_engine(db_url).begin() as connection:
        connection.execute(
            text("DELETE FROM aa_notebooks_migrations WHERE name = 'latency_rollup_sums'")
        )
    drop_latency_sums(db_url)

    def killed(_connection: object) -> None:
        raise RuntimeError("killed while filling")

    monkeypatch.setattr(rebuild, "fill_latency_sums", killed)
    with pytest.raises(RuntimeError, match="killed while filling"):
        init_db(db_url)
    columns = {c["name"] for c in inspect(get_engine(db_url)).get_columns("rollup_latency_day")}
    assert not columns & set(LATENCY_SUMS)
    assert not has_rollups(get_engine(db_url))
    monkeypatch.undo()
    assert init_db(db_url).migrations == ["latency_rollup_sums"]
    assert latency_sums(db_url, "latency_day") == expected


def test_a_process_that_saw_no_latency_sums_looks_again_after_a_while(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer started before another process ran init-db trusts its "no rollups" for
    RECHECK_SECONDS, then adds to them."""
    write_boundary_rows(db_url)
    with get_engine(db_url).begin() as connection:
        connection.execute(
            text("DELETE FROM aa_notebooks_migrations WHERE name = 'latency_rollup_sums'")
        )
    drop_latency_sums(db_url)
    engine = get_engine(db_url)
    assert not has_rollups(engine)
    url = make_url(db_url)
    other = create_engine(url.set(drivername="postgresql+psycopg") if url.drivername ==
                          "postgresql" else url)  # fmt: skip
    try:
        assert migrate(other) == ["latency_rollup_sums"]  # another process's init-db
    finally:
        other.dispose()
    assert not has_rollups(engine)
    later = time.monotonic() + state.RECHECK_SECONDS + 1
    monkeypatch.setattr(state, "_clock", lambda: later)
    assert has_rollups(engine)


def test_a_migration_that_died_after_adding_the_latency_sums_fills_them_next_time(
    db_url: str,
) -> None:
    """An earlier version of the migration could die on SQLite after its ALTER TABLE: the
    columns there, wrong, the migration unrecorded; the next init-db fills them all the same."""
    _write_hand_rows(db_url)
    expected = {level: latency_sums(db_url, level) for level in ("latency_hour", "latency_day")}
    with get_engine(db_url).begin() as connection:
        connection.execute(
            text("DELETE FROM aa_notebooks_migrations WHERE name = 'latency_rollup_sums'")
        )
        for table in ("rollup_latency_hour", "rollup_latency_day"):
            connection.execute(text(f"UPDATE {table} SET executions = 0, cost_micro_usd = 0"))
    assert init_db(db_url).migrations == ["latency_rollup_sums"]
    assert {level: latency_sums(db_url, level) for level in expected} == expected
    assert check_rollups(get_engine(db_url)).ok


def _drop_totals(url: str) -> None:
    """Take the database back to an earlier release's: no total rollups."""
    with get_engine(url).begin() as connection:
        for table in TOTAL_ROLLUP_TABLES:
            connection.execute(text(f"DROP TABLE {table}"))
    forget(get_engine(url))


def test_a_database_from_before_the_totals_gets_them_from_the_execution_rollups(
    db_url: str,
) -> None:
    """Filled from the execution rollups (sums and sketches), not the raw rows: a corrupted
    execution rollup row (the 23:00 hour's cost) carries over, which shows where they came
    from. Until then readers take the raw rows."""
    _write_hand_rows(db_url)
    expected = {level: total_sums(db_url, level) for level in ("totals_hour", "totals_day")}
    with get_engine(db_url).begin() as connection:
        connection.execute(
            text("UPDATE rollup_executions_hour SET cost_micro_usd = 7 WHERE time_sum = 50")
        )
    _drop_totals(db_url)
    assert not has_rollups(get_engine(db_url))
    shown = connect(db_url).timeseries(start_date="2024-06-01", end_date="2024-06-02")
    assert shown.source == "raw"
    report = init_db(db_url)
    assert sorted(report.created_tables) == sorted(TOTAL_ROLLUP_TABLES)
    assert has_rollups(get_engine(db_url))
    writer_hour = (at(23), ALICE)
    assert expected["totals_hour"][writer_hour][11] == 10_000
    hour = list(expected["totals_hour"][writer_hour])
    hour[11] = 7
    expected["totals_hour"][writer_hour] = tuple(hour)
    assert total_sums(db_url, "totals_hour") == expected["totals_hour"]
    assert total_sums(db_url, "totals_day") == expected["totals_day"]
    differing = {d.table for d in check_rollups(get_engine(db_url)).differences}
    assert differing == {"rollup_executions_hour", "rollup_totals_hour"}


def test_a_totals_fill_that_fails_leaves_no_empty_tables(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tables and their first fill commit together (SQLite too): killed mid-fill, init-db
    leaves no empty totals for readers to trust, and the next init-db makes them whole."""
    _write_hand_rows(db_url)
    expected = total_sums(db_url, "totals_day")
    _drop_totals(db_url)
    fill = setup.fill_total_rollups

    def dies(connection: Connection) -> None:
        fill(connection)
        raise RuntimeError("killed mid-fill")

    monkeypatch.setattr(setup, "fill_total_rollups", dies)
    with pytest.raises(RuntimeError, match="killed mid-fill"):
        init_db(db_url)
    assert not set(TOTAL_ROLLUP_TABLES) & set(inspect(get_engine(db_url)).get_table_names())
    assert not has_rollups(get_engine(db_url))
    monkeypatch.undo()
    assert sorted(init_db(db_url).created_tables) == sorted(TOTAL_ROLLUP_TABLES)
    assert total_sums(db_url, "totals_day") == expected and expected
    assert check_rollups(get_engine(db_url)).ok


def test_a_database_from_before_the_cache_rollups_gets_them_filled(db_url: str) -> None:
    """Only the cache rollup is new: it is filled from the raw rows, the others left as they
    are (a deliberately corrupted hourly row stays corrupted: nothing else was rebuilt)."""
    _write_hand_rows(db_url)
    expected = cache_rollup(db_url, "cache_day")
    with get_engine(db_url).begin() as connection:
        connection.execute(text("DROP TABLE rollup_cache_hour"))
        connection.execute(text("DROP TABLE rollup_cache_day"))
        connection.execute(text("DELETE FROM aa_notebooks_migrations WHERE name = 'cache_rollups'"))
        connection.execute(text("UPDATE rollup_executions_hour SET executions = executions + 1"))
    forget(get_engine(db_url))
    assert init_db(db_url).migrations == ["cache_rollups"]
    assert cache_rollup(db_url, "cache_day") == expected and expected
    report = check_rollups(get_engine(db_url))
    assert {difference.table for difference in report.differences} == {"rollup_executions_hour"}


def _write_hand_rows(url: str) -> None:
    write_boundary_rows(url)
    write_batch(get_engine(url), [
        execution(at(9, 15), usages=(("claude", 40, 4, "0.000200"), ("gpt-4o", 1, 1, "0.1"))),
    ])  # fmt: skip


def test_seeded_percentiles_are_within_the_bound_of_numpy(db_url: str) -> None:
    seed_database(db_url, executions=3000, days=3, now=datetime(2024, 6, 4))
    engine = get_engine(db_url)
    assert check_rollups(engine).ok
    executions = AgentExecution.__table__
    with engine.connect() as connection:
        times = connection.execute(
            select(executions.c.execution_time_ms).where(executions.c.execution_time_ms.is_not(None))
        ).scalars().all()  # fmt: skip
        day = ExecutionRollupDay.__table__
        sketch = Sketch.decode(connection.execute(select(day.c.latency_sketch)).scalars())
    assert sketch.count == len(times) > 2500
    for fraction in (0.5, 0.9, 0.95, 0.99):
        exact = float(np.percentile(np.array(times, dtype=float), fraction * 100))
        assert abs(sketch.quantile(fraction) - exact) <= RELATIVE_ACCURACY * exact


@pytest.mark.postgres
def test_enable_fills_an_agentos_database_and_marks_its_writers_hours(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """On a database made by the data contract's DDL (PostgreSQL's)."""
    url, name = new_postgres_database()
    try:
        engine = get_engine(url)
        with engine.begin() as connection:
            connection.exec_driver_sql(DDL.read_text())
            connection.exec_driver_sql(
                "INSERT INTO agentexecutions (id, request_id, session_id, agent_name, model_name,"
                " status, cost_usd, execution_time_ms, started_at) VALUES (gen_random_uuid(),"
                " gen_random_uuid(), gen_random_uuid(), 'a', 'm', 'success', 0.25, 10,"
                " '2024-06-01 10:20:00')"
            )
        assert init_db(url).foreign_database and not has_rollups(engine)
        assert main(["--db", url, "rollups", "enable"]) == 0
        assert capsys.readouterr().out.startswith(
            "rollups enabled: their tables and the triggers that mark rows written behind the "
            "kit's back are in place; rebuilt the rollups of 1 day(s)"
        )
        assert execution_rollup(url) == {
            (at(10), "a", "m", "success"): (1, 1, 10, 0, 0, 250_000, 1)
        }
        with engine.begin() as connection:  # another program writes: its hour is marked
            connection.exec_driver_sql(
                "INSERT INTO agentexecutions (id, request_id, session_id, agent_name, status, "
                "started_at) VALUES (gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), "
                "'a', 'success', '2024-06-01 12:59:00')"
            )
        assert dirty_hours(url) == [at(12)]
        assert main(["--db", url, "rollups", "rebuild"]) == 0
        assert dirty_hours(url) == [] and check_rollups(engine).ok
        drop_latency_sums(url)  # enabled by an earlier release: enabling again adds the sums
        assert not has_rollups(engine)
        forget(engine)
        assert main(["--db", url, "rollups", "enable"]) == 0
        assert has_rollups(engine) and check_rollups(engine).ok
        assert latency_sums(url, "latency_day") == {
            (at(0), "a", "m"): (1, 1, 0, 0, 1, 10, 1, 0, 1, 0, 0, 250_000),
            (at(0), "a", None): (1, 1, 0, 0, 1, 0, 1, 0, 1, 0, 0, 0),  # the DDL's defaults: 0
        }
    finally:
        drop_postgres_database(url, name)


@pytest.mark.postgres
def test_a_truncate_empties_the_rollups_its_table_feeds() -> None:
    """PostgreSQL's TRUNCATE fires no row or statement DML trigger: its own trigger empties the
    rollups, and the analytics show what the raw rows hold."""
    url, name = new_postgres_database()
    try:
        init_db(url)
        engine = get_engine(url)
        write_boundary_rows(url)
        write_batch(engine, [execution(at(9, 15), usages=(("claude", 40, 4, "0.000200"),))])
        days = {"start_date": "2024-06-01", "end_date": "2024-06-02"}
        assert connect(url).overview(**days).total_executions == 6
        assert usage_rollup(url) == {(at(9), "claude", "gpt-4o"): (1, 40, 4, 200)}
        with engine.begin() as connection:
            connection.exec_driver_sql("TRUNCATE tokenusages")
        assert usage_rollup(url) == {} and usage_rollup(url, "usage_day") == {}
        assert len(execution_rollup(url)) == 6  # the executions are all there
        assert check_rollups(engine).ok
        with engine.begin() as connection:
            connection.exec_driver_sql("TRUNCATE agentexecutions CASCADE")
        for level in TABLES:
            with engine.connect() as connection:
                assert connection.execute(select(TABLES[level])).first() is None, level
        assert check_rollups(engine).ok and has_rollups(engine)
        shown = connect(url).overview(**days)
        assert (shown.total_executions, shown.total_cost_usd) == (0, Decimal(0))
    finally:
        drop_postgres_database(url, name)


@pytest.mark.postgres
def test_another_programs_write_marks_the_hours_of_the_kits_own_schema() -> None:
    """The trigger functions found their tables through the writer's search_path: with the
    kit's tables in schema `agents`, another program's UPDATE (default search_path) failed
    with "relation rollup_dirty_hours does not exist", or, with a second kit database in
    `public`, marked that one's hours; a data-only restore (search_path emptied) failed too."""
    url, name = new_postgres_database()
    try:
        with create_engine(url).begin() as connection:
            connection.exec_driver_sql("CREATE SCHEMA agents")
        kits = make_url(url).update_query_dict({"options": "-csearch_path=agents"})
        kits_url = kits.render_as_string(hide_password=False)
        init_db(kits_url)
        init_db(url)  # a second kit database, in public
        write_batch(get_engine(kits_url), [execution(datetime(2024, 6, 1, 10, 20))])
        other = create_engine(url)
        with other.begin() as connection:
            connection.exec_driver_sql("UPDATE agents.agentexecutions SET cost_usd = 0.5")
            connection.exec_driver_sql("SET LOCAL search_path = ''")
            connection.exec_driver_sql(
                "INSERT INTO agents.agentexecutions (id, request_id, session_id, status, "
                "started_at) VALUES (gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), "
                "'success', '2024-06-02 11:00:00')"
            )
        other.dispose()
        assert dirty_hours(kits_url) == [datetime(2024, 6, 1, 10), datetime(2024, 6, 2, 11)]
        assert dirty_hours(url) == []
        assert main(["--db", kits_url, "rollups", "rebuild", "--no-progress"]) == 0
        assert check_rollups(get_engine(kits_url)).ok
        pinned = (
            "SELECT proname, proconfig FROM pg_proc WHERE left(proname, 3) = 'aa_' "
            "AND pronamespace = 'agents'::regnamespace ORDER BY 1"
        )
        with get_engine(kits_url).begin() as connection:  # as an earlier release made them
            functions = connection.exec_driver_sql(pinned).all()
            for function, _ in functions:
                connection.exec_driver_sql(f"ALTER FUNCTION agents.{function}() RESET ALL")
            connection.exec_driver_sql(
                "DELETE FROM aa_notebooks_migrations WHERE name = 'trigger_search_path'"
            )
        assert len(functions) == 5  # marks and truncates of two tables, the budgets' bump
        init_db(kits_url)  # the upgrade pins them again
        with get_engine(kits_url).connect() as connection:
            assert connection.exec_driver_sql(pinned).all() == functions
        assert {tuple(config) for _, config in functions} == {("search_path=agents, pg_temp",)}
    finally:
        dispose_engine(kits_url)
        drop_postgres_database(url, name)
