"""The batch writer: batches (also of records that trickle in), idempotence, the spool in an
outage and its replay (also of a spool left by an earlier process), a torn spool line, and
records the database refuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from aa_notebooks.db.engine import autocommit_fetch, get_engine
from aa_notebooks.tracking import Run
from aa_notebooks.tracking import writer as writer_module
from aa_notebooks.tracking.record import ExecutionRecord
from aa_notebooks.tracking.spool import REJECTED_FILE
from aa_notebooks.tracking.store import BatchResult
from aa_notebooks.tracking.writer import BatchWriter
from tests.conftest import POSTGRES_ENV
from tests.tracking.conftest import admin_statement, counts, executions
from tests.tracking.test_store import make_record

Down = tuple[str, Callable[[], None]]


def segments(writer: BatchWriter) -> list[Path]:
    """The spool's segment files that hold records."""
    directory = writer.spool.directory
    found = directory.glob("segment-*.jsonl") if directory.exists() else []
    return [path for path in found if path.stat().st_size > 0]


def test_records_are_written_in_batches(
    db_url: str, spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes: list[int] = []

    def counting(
        engine: Engine, records: list[ExecutionRecord], running: Sequence[uuid.UUID] = ()
    ) -> BatchResult:
        sizes.append(len(records))
        return original(engine, records, running)

    original = writer_module.write_batch
    monkeypatch.setattr(writer_module, "write_batch", counting)
    writer = BatchWriter(db_url, spool_dir=spool_dir, batch_size=500)
    try:
        for _ in range(3000):
            writer.submit(make_record())
        assert writer.flush(timeout=60)
    finally:
        writer.close()
    assert counts(db_url) == (3000, 6000, 3000)
    assert sum(sizes) == 3000 and max(sizes) <= 500 and len(sizes) <= 60


def test_records_that_trickle_in_share_a_transaction(
    db_url: str, spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records submitted one by one within `batch_wait_s` of the first go in one batch, and a
    flush ends the wait at once."""
    sizes: list[int] = []

    def counting(
        engine: Engine, records: list[ExecutionRecord], running: Sequence[uuid.UUID] = ()
    ) -> BatchResult:
        sizes.append(len(records))
        return original(engine, records, running)

    original = writer_module.write_batch
    monkeypatch.setattr(writer_module, "write_batch", counting)
    writer = BatchWriter(db_url, spool_dir=spool_dir, batch_wait_s=30)
    try:
        writer.flush()  # the schema is made: what follows is the batch alone
        for _ in range(20):
            writer.submit(make_record())
            time.sleep(0.002)
        started = time.monotonic()
        assert writer.flush(timeout=20)
        assert time.monotonic() - started < 20
    finally:
        writer.close()
    assert sizes == [20] and counts(db_url) == (20, 40, 20)


def test_the_same_record_twice_gives_one_row(db_url: str, spool_dir: Path) -> None:
    record = make_record()
    writer = BatchWriter(db_url, spool_dir=spool_dir)
    try:
        writer.submit(record)
        writer.flush()
        writer.submit(record)
        writer.submit(replace(record))
        writer.flush()
    finally:
        writer.close()
    assert counts(db_url) == (1, 2, 1)


def test_outage_spools_then_replays_each_record_once(down_database: Down, spool_dir: Path) -> None:
    url, bring_up = down_database
    writer = BatchWriter(url, spool_dir=spool_dir, retry_interval_s=0.1)
    try:
        records = [make_record() for _ in range(50)]
        for record in records[:30]:
            writer.submit(record)
        assert writer.flush() and writer.spooling
        assert len(segments(writer)) == 1
        bring_up()
        for record in records[30:]:
            writer.submit(record)
        writer.submit(records[0])  # a duplicate across the outage
        assert writer.flush()
        assert not writer.spooling and segments(writer) == []
    finally:
        writer.close()
    assert {row["id"] for row in executions(url)} == {r.id for r in records}
    assert counts(url) == (50, 100, 50)


def test_a_spool_left_by_an_earlier_process_is_replayed(
    down_database: Down, spool_dir: Path
) -> None:
    url, bring_up = down_database
    script = textwrap.dedent(
        f"""
        import os
        from aa_notebooks.tracking.writer import BatchWriter
        from tests.tracking.test_store import make_record
        writer = BatchWriter({url!r}, spool_dir={str(spool_dir)!r})
        for _ in range(25):
            writer.submit(make_record(agent="earlier"))
        assert writer.flush() and writer.spooling
        os._exit(0)  # dies without closing: its segment stays, unlocked by its death
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, cwd=Path(__file__).parents[2])
    bring_up()
    writer = BatchWriter(url, spool_dir=spool_dir)
    try:
        assert writer.flush()
        assert segments(writer) == [] and list(writer.spool.directory.glob("segment-*")) == []
    finally:
        writer.close()
    assert counts(url) == (25, 50, 25)


def test_a_live_writers_spool_is_left_to_it(down_database: Down, spool_dir: Path) -> None:
    url, bring_up = down_database
    first = BatchWriter(url, spool_dir=spool_dir, retry_interval_s=60)
    second = None
    try:
        first.submit(make_record())
        first.flush()
        bring_up()
        second = BatchWriter(url, spool_dir=spool_dir)
        second.flush()
        assert counts(url) == (0, 0, 0)  # the first writer holds its segment
        first.flush()  # flushing retries its spool now
        assert counts(url) == (1, 2, 1)
    finally:
        first.close()
        if second is not None:
            second.close()


def rejected(writer: BatchWriter) -> list[dict[str, object]]:
    """The rejected file's entries."""
    path = writer.spool.directory / REJECTED_FILE
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_what_cannot_be_replayed_is_moved_aside_and_the_rest_replays(
    db_url: str, spool_dir: Path
) -> None:
    """Two segments left by dead writers: the first holds a non-numeric cost, a line that is not
    JSON and a count past INTEGER's range between good records; the second ends in a torn line.
    Every good record of both is written; each bad line is in the rejected file with its reason."""
    probe = BatchWriter(db_url, spool_dir=spool_dir)
    probe.close()
    directory = probe.spool.directory
    directory.mkdir(parents=True, exist_ok=True)
    good = [make_record() for _ in range(6)]
    bad_cost = json.loads(make_record().to_json())
    bad_cost["execution"]["cost_usd"] = "a lot"
    too_many = make_record()
    wrapped = {**too_many.execution, "input_tokens": 2**31, "total_tokens": 2**31 + 300}
    too_many = ExecutionRecord(wrapped, too_many.traces, too_many.usages)
    torn = make_record().to_json()[:57]
    first = directory / "segment-1-999999-aaaaaaaa.jsonl"
    first.write_text(
        "\n".join([good[0].to_json(), json.dumps(bad_cost), good[1].to_json(), "{not json",
                   too_many.to_json(), good[2].to_json()]) + "\n"
    )  # fmt: skip
    second = directory / "segment-2-999999-bbbbbbbb.jsonl"
    second.write_text("".join(r.to_json() + "\n" for r in good[3:]) + torn)

    writer = BatchWriter(db_url, spool_dir=spool_dir)
    try:
        assert writer.flush(timeout=30)
    finally:
        writer.close()
    assert {row["id"] for row in executions(db_url)} == {r.id for r in good}
    assert counts(db_url) == (6, 12, 6)
    assert not first.exists() and not second.exists()
    kept = rejected(writer)
    assert [entry["error"] for entry in kept] == [
        f"InvalidInputError: agentexecutions.input_tokens = {2**31} is out of "
        "range: its column is INTEGER, which holds 0 to 2147483647 here; the value is refused, "
        "not wrapped",
        "spool line 2: unreadable (InvalidOperation([<class 'decimal.ConversionSyntax'>]))",
        "spool line 4: unreadable (JSONDecodeError('Expecting property name enclosed in double "
        "quotes: line 1 column 2 (char 1)'))",
        "spool line 4: truncated (a crash while writing it)",
    ]
    assert kept[0]["record"]["execution"]["id"] == str(too_many.id)  # type: ignore[index]
    assert kept[1]["line"] == json.dumps(bad_cost) and kept[2]["line"] == "{not json"
    assert kept[3]["line"] == torn


def test_a_tracked_run_past_the_range_is_set_aside_not_raised(db_url: str, spool_dir: Path) -> None:
    from aa_notebooks.tracking import Tracker

    tracker = Tracker(db_url, spool_dir=spool_dir)
    try:
        with tracker.execution(agent_name="ok") as run:
            run.tokens("main_agent", "gpt-4o", 1200, 300)
        with tracker.execution(agent_name="huge") as run:  # no error reaches the agent
            run.tokens("main_agent", "gpt-4o-mini", 5_000_000_000, 0)
        with tracker.execution(agent_name="ok too") as run:
            run.step("thought", "long", input_tokens=2**31 - 1)
        assert tracker.flush(timeout=30)
    finally:
        tracker.close()
    stored = {row["agent_name"]: row["input_tokens"] for row in executions(db_url)}
    assert stored == {"ok": 1200, "ok too": 2**31 - 1}
    [entry] = rejected(tracker.writer)
    assert entry["error"] == (
        "InvalidInputError: agentexecutions.input_tokens = 5000000000 is out of range: its column "
        "is INTEGER, which holds 0 to 2147483647 here; the value is refused, not wrapped"
    )
    assert entry["record"]["execution"]["agent_name"] == "huge"  # type: ignore[index]
    tracker.close()


def test_a_refused_record_is_set_aside_and_the_rest_written(db_url: str, spool_dir: Path) -> None:
    good = [make_record() for _ in range(4)]
    refused = make_record()
    refused = ExecutionRecord({**refused.execution, "session_id": None}, refused.traces)
    writer = BatchWriter(db_url, spool_dir=spool_dir)
    try:
        for record in [*good[:2], refused, *good[2:]]:
            writer.submit(record)
        writer.flush()
    finally:
        writer.close()
    assert {row["id"] for row in executions(db_url)} == {r.id for r in good}
    kept = (writer.spool.directory / REJECTED_FILE).read_text().splitlines()
    assert len(kept) == 1 and str(refused.id) in kept[0] and "IntegrityError" in kept[0]


def test_a_short_script_loses_nothing_at_exit(db_url: str, spool_dir: Path) -> None:
    script = textwrap.dedent(
        f"""
        from aa_notebooks.tracking import configure, track_agent
        configure({db_url!r}, spool_dir={str(spool_dir)!r})

        @track_agent("script")
        def agent(i):
            return i

        for i in range(200):
            agent(i)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    subprocess.run([sys.executable, "-c", script], check=True, env=env)
    get_engine(db_url).dispose()
    assert counts(db_url) == (200, 0, 0)


def _empty_the_database(url: str) -> None:
    """What a user may do under a live writer: remove the SQLite file (with its WAL), or drop
    the PostgreSQL database and create it again, empty."""
    found = make_url(url)
    if found.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{found.database}{suffix}").unlink(missing_ok=True)
        return
    name = found.database
    admin_statement(os.environ[POSTGRES_ENV], f'DROP DATABASE "{name}" WITH (FORCE)')
    admin_statement(os.environ[POSTGRES_ENV], f'CREATE DATABASE "{name}"')


def _replayed(writer: BatchWriter) -> None:
    """Flush, then wait (up to 30 s) until the writer's spool has been replayed."""
    assert writer.flush(30)
    deadline = time.monotonic() + 30
    while writer.spooling and time.monotonic() < deadline:
        time.sleep(0.1)
        writer.flush(30)


def test_a_database_emptied_under_the_writer_gets_its_tables_and_the_records_again(
    db_url: str, spool_dir: Path
) -> None:
    """SQLite: the writer's connections wrote on into the removed file, and every later run
    was lost with no word. PostgreSQL: the writer spooled every later run until the process
    ended, its tables never made again."""
    writer = BatchWriter(db_url, spool_dir=spool_dir, retry_interval_s=0.1)
    try:
        writer.submit(Run(agent_name="before").finish())
        assert writer.flush(30)
        _empty_the_database(db_url)
        for _ in range(3):
            writer.submit(Run(agent_name="after").finish())
        _replayed(writer)
    finally:
        writer.close()
    # the autocommit twin, which the hard-stop check reads through, reads the new file too
    _, rows = autocommit_fetch(get_engine(db_url), "SELECT agent_name FROM agentexecutions", ())
    assert [tuple(row) for row in rows] == [("after",)] * 3
    get_engine(db_url).dispose()
    assert [row["agent_name"] for row in executions(db_url)] == ["after"] * 3
    assert writer.refused == 0


def test_a_run_that_cannot_be_cut_off_at_exit_keeps_nothing_else_from_the_database(
    db_url: str, spool_dir: Path
) -> None:
    """At exit, the runs still going are cut off, then the writer closes: one whose record
    failed (a value of its own) skipped the close, and the records queued behind it waited in
    the journal for another process."""
    script = textwrap.dedent(
        f"""
        from aa_notebooks.tracking import Run
        from aa_notebooks.tracking.writer import BatchWriter

        class Broken(Run):
            def finish(self, *args, **kwargs):
                raise RuntimeError("a value of its own")

        writer = BatchWriter({db_url!r}, spool_dir={str(spool_dir)!r}, batch_wait_s=5)
        writer.started(Broken(agent_name="broken"))
        for i in range(200):
            writer.submit(Run(agent_name="queued").finish())
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and "not recorded as cut off: a value of its own" in done.stderr
    get_engine(db_url).dispose()
    assert [row["agent_name"] for row in executions(db_url)] == ["queued"] * 200


def test_a_query_set_to_something_else_than_text_is_recorded_as_its_text(
    db_url: str, spool_dir: Path
) -> None:
    """A request body's dict as the run's query failed the run when it ended (the kit's own
    TypeError out of the block), and left it to be cut off at exit."""
    writer = BatchWriter(db_url, spool_dir=spool_dir)
    try:
        run = Run(agent_name="api")
        writer.started(run)
        run.query = {"question": "why?"}  # type: ignore[assignment]
        writer.submit(run.finish())
        assert writer.flush(30)
    finally:
        writer.close()
    [row] = executions(db_url)
    assert (row["query_preview"], row["status"].value) == ("{'question': 'why?'}", "success")


def test_a_run_cut_off_by_a_signal_that_ends_after_all_is_recorded_as_it_ended(
    db_url: str, spool_dir: Path
) -> None:
    """SIGTERM records the runs still going as cut off; a thread the signal did not stop may
    finish one of them, whose real record then takes the cut-off one's place (it was skipped
    as already stored, leaving a success as failure/CutOff with no cost)."""
    writer = BatchWriter(db_url, spool_dir=spool_dir)
    try:
        ends, stays = Run(agent_name="ends"), Run(agent_name="stays")
        for run in (ends, stays):
            writer.started(run)
        writer.stopping("the process was told to stop", timeout=30)  # as the handler does
        assert {(r["agent_name"], r["error_type"]) for r in executions(db_url)} == {
            ("ends", "CutOff"), ("stays", "CutOff"),
        }  # fmt: skip
        ends.tokens("main_agent", "gpt-4o", 1000, 100)
        writer.submit(ends.finish())
        assert writer.flush(30)
    finally:
        writer.close()
    found = {row["agent_name"]: row for row in executions(db_url)}
    assert (found["ends"]["status"], found["ends"]["error_type"]) == ("success", None)
    assert (found["ends"]["input_tokens"], found["ends"]["output_tokens"]) == (1000, 100)
    assert found["ends"]["cost_usd"] > 0
    assert (found["stays"]["status"], found["stays"]["error_type"]) == ("failure", "CutOff")
    assert counts(db_url)[0] == 2


TRACK_AT_ONCE = """
import sys, time
from aa_notebooks.db import migrations
from aa_notebooks.db.migrations import Migration, add_column
from aa_notebooks.tracking import Tracker

def slow_flow(connection):
    time.sleep(0.5)  # both writers read the migrations as pending before either records one
    add_column(connection, "agentexecutions", "flow_id")

def slow(connection):
    time.sleep(0.5)

migrations.MIGRATIONS[:] = [Migration("0001_slow_flow", slow_flow), Migration("0002_slow", slow),
                            Migration("0003_slow", slow)]
tracker = Tracker(sys.argv[1], spool_dir=sys.argv[2], check_budgets=False)
time.sleep(max(0.0, float(sys.argv[3]) - time.time()))
for _ in range(10):
    with tracker.execution(agent_name=sys.argv[2][-1]):
        pass
tracker.close()
"""


def test_two_agents_meeting_an_older_database_lose_no_run(db_url: str, tmp_path: Path) -> None:
    """Both writers migrate on first use: the one that lost the race set its valid runs aside
    in the rejected file as "refused by the database", where nothing replays them."""
    statements = ["DROP TABLE aa_notebooks_migrations",
                  "ALTER TABLE agentexecutions DROP COLUMN flow_id"]  # fmt: skip
    with get_engine(db_url).begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
    get_engine(db_url).dispose()
    start = str(time.time() + 3)  # after both interpreters have imported the kit
    children = [
        subprocess.Popen(
            [sys.executable, "-c", TRACK_AT_ONCE, db_url, str(tmp_path / f"spool-{name}"), start],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in "ab"
    ]
    outcomes = [child.communicate(timeout=120) for child in children]
    assert [child.returncode for child in children] == [0, 0], outcomes
    assert "refused by the database" not in "".join(err for _, err in outcomes)
    assert sorted(row["agent_name"] for row in executions(db_url)) == ["a"] * 10 + ["b"] * 10
    assert not list(tmp_path.glob(f"spool-*/**/{REJECTED_FILE}"))


def test_a_schema_that_cannot_be_set_up_now_keeps_the_records_for_later(
    db_url: str, spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any error making or migrating the tables (not only a lost connection) spools the batch:
    no table refused a record, so none is set aside."""
    real_init = writer_module.init_db
    failures = iter([RuntimeError("another process is migrating")] * 5)

    def init_failing_once(url: object) -> object:
        if failure := next(failures, None):
            raise failure
        return real_init(url)

    monkeypatch.setattr(writer_module, "init_db", init_failing_once)
    writer = BatchWriter(db_url, spool_dir=spool_dir, retry_interval_s=0.1)
    records = [make_record() for _ in range(3)]
    try:
        for record in records:
            writer.submit(record)
        _replayed(writer)
    finally:
        writer.close()
    assert {row["id"] for row in executions(db_url)} == {record.id for record in records}
    assert writer.refused == 0
    assert not (writer.spool.directory / REJECTED_FILE).exists()
