"""Time series and cost over time read through the rollups give the raw numbers: buckets that
the window cuts mid-hour, hourly buckets over whole days, a deleted execution; P95 per bucket
from the sketches stays within its bound."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from numpy.testing import assert_allclose
from pandas.testing import assert_frame_equal

from aa_notebooks.analytics import Analytics, connect, rollup_buckets, rollup_source
from aa_notebooks.cli import main
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import AgentExecution
from tests.analytics.test_rollup_source import WINDOWS, _write_hand_data
from tests.db.rollups.helpers import ALICE, BOB
from tests.db.rollups.test_record import at, execution, write_batch

NOW = datetime(2024, 6, 2, 5, 20, tzinfo=UTC)
TWO_DAYS = {"start_date": "2024-06-01", "end_date": "2024-06-02"}


def _client(url: str) -> Analytics:
    return connect(url, now=lambda: NOW)


def _records(table: object) -> list[dict]:
    return table.to_frame().to_dict("records")  # type: ignore[attr-defined]


@pytest.mark.parametrize("bucket", ["hour", "day"])
@pytest.mark.parametrize("window", WINDOWS)
def test_series_through_the_rollups_are_the_raw_ones(
    db_url: str, window: dict, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A window of at most EXACT_PERCENTILES_UP_TO executions reads its time series raw (its
    P95 per bucket exact); above (0 here), every figure but P95 is the raw one."""
    _write_hand_data(db_url)
    client = _client(db_url)
    small, audit = (
        client.timeseries(**window, bucket=bucket),
        client.timeseries(**window, bucket=bucket, exact=True),
    )
    assert (small.source, audit.source) == ("raw", "raw")
    assert_frame_equal(small.frame, audit.frame)
    monkeypatch.setattr(rollup_buckets, "EXACT_BUCKET_PERCENTILES_UP_TO", 0)
    fast = client.timeseries(**window, bucket=bucket)
    assert fast.source == "rollup"
    assert_frame_equal(fast.frame.drop(columns="p95_ms"), audit.frame.drop(columns="p95_ms"))
    assert_allclose(fast.frame["p95_ms"], audit.frame["p95_ms"], rtol=0.01)  # NaN where empty
    for by in ("model", "agent"):
        fast = client.cost_timeseries(**window, bucket=bucket, by=by)
        audit = client.cost_timeseries(**window, bucket=bucket, by=by, exact=True)
        assert (fast.source, audit.source) == ("rollup", "raw")
        assert_frame_equal(fast.frame, audit.frame)
        assert fast.notes == audit.notes


@pytest.mark.parametrize("scope", ["alice", "bob", "agent", "model"])
def test_a_users_or_a_narrowed_series_through_the_rollups_is_the_raw_one(
    db_url: str, monkeypatch: pytest.MonkeyPatch, scope: str
) -> None:
    """One user's series reads that user's totals; a source narrowed to an agent or a model
    (which the totals lack) reads the latency rollups: each the raw series of its executions.
    Bob's two runs share hours with Alice's, so a wider read would show."""
    _write_hand_data(db_url)
    write_batch(get_engine(db_url), [
        execution(at(11, 10), agent="writer", model="claude", time_ms=4_000, cost="1.000000",
                  user_id=BOB),
        execution(at(0, 30, day=2), time_ms=9_000, cost="2.000000", user_id=BOB),
    ])  # fmt: skip
    monkeypatch.setattr(rollup_buckets, "EXACT_BUCKET_PERCENTILES_UP_TO", 0)
    client = _client(db_url)
    source = client._source
    if scope in ("alice", "bob"):
        client = client.scoped(ALICE if scope == "alice" else BOB)
    else:
        column, value = ("agent_name", "writer") if scope == "agent" else ("model_name", "gpt-4o")
        client = Analytics(source.narrowed(column, value), client._now)
    for bucket in ("hour", "day"):
        fast = client.timeseries(**TWO_DAYS, bucket=bucket)
        audit = client.timeseries(**TWO_DAYS, bucket=bucket, exact=True)
        assert (fast.source, audit.source) == ("rollup", "raw")
        assert audit.frame["executions"].sum() == {"alice": 7, "bob": 2, "agent": 4,
                                                   "model": 5}[scope]  # fmt: skip
        assert_frame_equal(fast.frame.drop(columns="p95_ms"), audit.frame.drop(columns="p95_ms"))
        assert_allclose(fast.frame["p95_ms"], audit.frame["p95_ms"], rtol=0.01)


@pytest.mark.parametrize("sketches", [False, True], ids=["raw", "rollups"])
def test_daily_series_by_hand(db_url: str, monkeypatch: pytest.MonkeyPatch, sketches: bool) -> None:
    """June 1 and June 2 to 05:20: 7 executions, read raw under the exact bound; above it (0),
    June 1 from the daily rollup and June 2 from five hours of the hourly rollup and twenty
    minutes raw, P95 from the sketches within 1%."""
    _write_hand_data(db_url)
    if sketches:
        monkeypatch.setattr(rollup_buckets, "EXACT_BUCKET_PERCENTILES_UP_TO", 0)
    client = _client(db_url)
    series = client.timeseries(**TWO_DAYS)
    assert series.source == ("rollup" if sketches else "raw")
    assert [(r["executions"], r["success_rate"], r["avg_response_time_ms"], r["cost_usd"])
            for r in _records(series)] == [
        (5, 80.0, 137.5, 0.014501),  # 100, 100, 300, none, 50 ms
        (2, 100.0, 38.5, 0.250003),  # 70, 7 ms
    ]  # fmt: skip
    p95 = [r["p95_ms"] for r in _records(series)]
    assert p95 == ([pytest.approx(270.0, rel=0.01), pytest.approx(66.85, rel=0.01)]
                   if sketches else [270.0, 66.85])  # fmt: skip
    costs = client.cost_timeseries(**TWO_DAYS, by="model")
    assert {(r["bucket"].day, r["model"]): r["cost_usd"] for r in _records(costs)} == {
        # the 09:15 run's claude row moves $0.0002 from gpt-4o to claude; the 04:50 run's
        # gpt-4o-mini row moves $0.000009 from claude
        (1, "claude"): 0.010200,
        (1, "gpt-4o"): 0.004301,
        (1, "gpt-4o-mini"): 0.0,
        (2, "claude"): 0.249994,
        (2, "gpt-4o"): 0.0,
        (2, "gpt-4o-mini"): 0.000009,
    }


@pytest.mark.parametrize(("bound", "source"), [(7, "raw"), (6, "rollup")])
def test_the_sketches_answer_only_above_the_exact_bound(
    db_url: str, monkeypatch: pytest.MonkeyPatch, bound: int, source: str
) -> None:
    """The two days hold 7 executions (5 and 2, counted from the rollups and the raw minutes
    before any grouped read): up to the bound the series reads raw, above it the rollups."""
    _write_hand_data(db_url)
    monkeypatch.setattr(rollup_buckets, "EXACT_BUCKET_PERCENTILES_UP_TO", bound)
    assert _client(db_url).timeseries(**TWO_DAYS).source == source


def test_bucket_and_window_percentiles_have_their_own_bounds(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above the per-bucket bound (6 here) and under the window's (7), the series takes its P95
    per bucket from the sketches while the overview's P50/P95/P99 stay exact: the window's
    seven runs (100, 100, 300, 50, 70 and 7 ms, one without a duration) give them by hand."""
    _write_hand_data(db_url)
    monkeypatch.setattr(rollup_buckets, "EXACT_BUCKET_PERCENTILES_UP_TO", 6)
    monkeypatch.setattr(rollup_source, "EXACT_PERCENTILES_UP_TO", 7)
    client = _client(db_url)
    series = client.timeseries(**TWO_DAYS)
    assert series.source == "rollup" and series.notes[0].startswith("P95 per bucket from")
    overview = client.overview(**TWO_DAYS)
    assert (overview.source, overview.percentile_bound) == ("rollup", 0.0)
    # sorted 7, 50, 70, 100, 100, 300 (ranks 0-5): P50 at rank 2.5 = 85, P95 at 4.75 =
    # 100 + 0.75 x 200, P99 at 4.95 = 100 + 0.95 x 200
    assert (overview.p50_ms, overview.p95_ms, overview.p99_ms) == (85.0, 250.0, 290.0)


def test_a_deleted_execution_leaves_its_bucket_before_a_rebuild(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 11:00 run deleted behind the rollups: its hour is read raw, in the count that picks
    the path (6 executions now: at a bound of 6 the series reads raw, at 5 the rollups) and in
    the series, which matches the raw one."""
    _write_hand_data(db_url)
    with get_engine(db_url).begin() as connection:
        connection.execute(
            AgentExecution.__table__.delete().where(AgentExecution.execution_time_ms == 300)
        )
    client = _client(db_url)
    monkeypatch.setattr(rollup_buckets, "EXACT_BUCKET_PERCENTILES_UP_TO", 6)
    assert client.timeseries(**TWO_DAYS).source == "raw"
    monkeypatch.setattr(rollup_buckets, "EXACT_BUCKET_PERCENTILES_UP_TO", 5)
    fast = client.timeseries(**TWO_DAYS)
    assert fast.source == "rollup" and _records(fast)[0]["executions"] == 4
    audit = client.timeseries(**TWO_DAYS, exact=True).frame
    assert_frame_equal(fast.frame.drop(columns="p95_ms"), audit.drop(columns="p95_ms"))
    assert_allclose(fast.frame["p95_ms"], audit["p95_ms"], rtol=0.01)


def test_bucket_p95_from_sketches_is_within_its_bound(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_hand_data(db_url)
    monkeypatch.setattr(rollup_buckets, "EXACT_BUCKET_PERCENTILES_UP_TO", 0)
    series = _client(db_url).timeseries(**TWO_DAYS)
    assert series.notes == (
        "P95 per bucket from the rollups' latency sketches, within 1% of exact "
        "(exact=True / --exact reads the raw rows)",
    )
    found = [r["p95_ms"] for r in _records(series)]
    for value, exact in zip(found, (270.0, 66.85), strict=True):
        assert abs(value - exact) <= 0.01 * exact


@pytest.mark.parametrize(
    "command",
    [["timeseries", "--bucket", "hour"], ["cost-timeseries", "--by", "agent"], ["compare-models"]],
)
def test_the_series_commands_take_exact(
    db_url: str,
    command: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _write_hand_data(db_url)
    if command[0] == "timeseries":  # above the exact bound, as only then it reads the rollups
        monkeypatch.setattr(rollup_buckets, "EXACT_BUCKET_PERCENTILES_UP_TO", 0)
    window = ["--start-date", "2024-06-01", "--end-date", "2024-06-02", "--format", "json"]
    found = []
    for extra in ([], ["--exact"]):
        assert main(["--db", db_url, *command, *window, *extra]) == 0
        found.append(json.loads(capsys.readouterr().out))
    assert (found[0].pop("source"), found[1].pop("source")) == ("rollup", "raw")
    if command[0] == "timeseries":  # P95 per bucket from the sketches, and a note that says so
        assert [note[:15] for note in found[0].pop("notes")] == ["P95 per bucket "]
        found[1].pop("notes")
        for rows in (found[0]["frame"], found[1]["frame"]):
            assert sum(row.pop("p95_ms") is not None for row in rows) == 6  # 6 hours with runs
    assert found[0] == found[1]


@pytest.mark.parametrize("bucket", ["hour", "day"])
def test_fewer_counts_read_are_the_same_counts(db_url: str, bucket: str) -> None:
    """Sums read with only some counts (a lighter GROUP BY) hold those counts equal to a full
    read's, where rollup rows and the raw rows of a window cut mid-hour are merged."""
    _write_hand_data(db_url)
    write_batch(get_engine(db_url), [  # in the raw pieces: 17:20-18:00 and 05:00-05:20
        execution(at(17, 40), status="failure", cost="0.000100"),
        execution(at(5, 10, day=2), agent="writer", model="claude", cost="0.300000"),
    ])  # fmt: skip
    client = _client(db_url)
    source, window = client._source, client.window("36h")
    with source.connect() as connection:
        full = rollup_buckets.bucket_sums(source, window, bucket, connection)
        light = rollup_buckets.bucket_sums(
            source, window, bucket, connection, counts=("executions", "success")
        )
    assert full is not None and light is not None

    def numbers(sums: rollup_buckets.BucketSums) -> dict[tuple, tuple]:
        return {
            (start, p.agent_id, p.by_name, p.model): (
                p.counts["executions"], p.counts["success"], p.cost
            )
            for start, pairs in sums.pairs.items()
            for p in pairs
        }  # fmt: skip

    assert numbers(light) == numbers(full)
    day_two = datetime(2024, 6, 2, 0 if bucket == "day" else 5, tzinfo=UTC)
    writer = [p for p in light.pairs[day_two] if p.model == "claude"]
    # by day: 00:00 and 04:50 from the rollups, 05:10 raw; by hour: 05:10 alone
    assert [p.counts["executions"] for p in writer] == [3 if bucket == "day" else 1]


def _cells(rows: list[tuple], raw: list[tuple] = ()) -> rollup_buckets.Cells:  # type: ignore[assignment]
    cells = rollup_buckets.Cells("day")
    cells.add_rollup_rows(rows)
    for start, combo, success, cost, duration in raw:
        cells.add_raw(start, combo, success, cost, duration)
    return cells


def test_cells_read_alike_share_a_digest_and_any_difference_changes_it() -> None:
    """The anomaly scan keeps its findings by this digest, so no two different reads may share
    one, including two whose numbers and sketch bytes line up once concatenated (the second
    read: its second row's numbers are the first read's sketch bytes, plus a raw execution)."""
    day = "2026-11-01 00:00:00.000000"
    combo = ("a" * 32, "alpha", "gpt-4o")
    words = [100, 200, 300, 8, 0]
    tail = (7).to_bytes(8, "little")
    packed = b"".join(word.to_bytes(8, "little") for word in words) + tail
    first = [(day, *combo, 0, 5, 1, packed), (day, *combo, 0, 7, 3, None)]
    assert _cells(first).digest() == _cells(list(first)).digest()
    lined_up = _cells(
        [(day, *combo, 5, 3, 100, tail), (day, *combo, 7, 48, 200, None)],
        [(datetime(2026, 11, 1, tzinfo=UTC), combo, 0, 300, None)],
    )
    changed_count = [(day, *combo, 0, 5, 2, packed), first[1]]
    no_duration = [(datetime(2026, 11, 1, tzinfo=UTC), combo, 1, 0, None)]
    digests = {
        _cells(first).digest(),
        lined_up.digest(),
        _cells(changed_count).digest(),
        _cells(first, no_duration).digest(),
        _cells([(day, "b" * 32, "alpha", "gpt-4o", 0, 5, 1, packed), first[1]]).digest(),
    }
    assert len(digests) == 5
