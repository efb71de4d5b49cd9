"""`anomalies` on hand-made daily series (`series`) with known spikes, on SQLite and PostgreSQL.

Each expected z is worked out by hand from the series' numbers: a day's baseline median is that
of the same weekday's 4 previous days (28 baseline days hold 4 of each weekday), its MAD that of
all 28 previous days.
"""

from __future__ import annotations

import math
import random
import statistics
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from aa_notebooks.analytics import Analytics, Window, connect, rollup_buckets
from aa_notebooks.analytics import anomalies as anomalies_module
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.rollups.rebuild import rebuild_rollups
from aa_notebooks.db.schema import AgentExecution
from aa_notebooks.errors import InvalidInputError
from aa_notebooks.seed import seed_database
from aa_notebooks.tracking.store import write_batch
from tests.analytics import series
from tests.analytics.series import END_DATE, NOW, START_DATE
from tests.db.rollups.helpers import ALICE, execution

COLUMNS = [
    "day", "by", "group", "metric", "value", "baseline_median", "baseline_mad", "z",
    "direction", "baseline", "baseline_points",
]  # fmt: skip
# alpha, day 31 (Thursday 2026-11-26): the Thursdays before cost 0.10, 0.12, 0.11, 0.10 (median
# 0.105); days 3-30 cost 0.10 (10 days), 0.11 (9) and 0.12 (9): median 0.11, MAD 0.01
ALPHA_Z = (1.00 - 0.105) / (1.4826 * 0.01)
# beta, day 30 (Wednesday): the Wednesdays before took 1020, 1010, 1000, 1020 ms (median 1015);
# days 2-29 took 1000 (9 days), 1010 (9), 1020 (10): median 1010, MAD 10
BETA_Z = (5000 - 1015) / (1.4826 * 10)
# gamma, day 32 (Friday): 75 % failed; the Fridays before 0, 0, 0, 25 % (median 0); of days 4-31,
# 7 had 25 % and 21 had 0: median 0 and MAD 0, so the scale is 1.253314 x the mean absolute
# deviation (7 x 25 / 28 = 6.25)
GAMMA_Z = 75 / (1.253314 * 6.25)
# weekly, day 29 (Tuesday): the Tuesdays before cost 0.11, 0.10, 0.12, 0.11 (median 0.11); days
# 1-28 cost 0.10, 0.11, 0.12 (8 days each) and 1.00 (4 Mondays): median 0.11, MAD 0.01
WEEKLY_Z = (1.00 - 0.11) / (1.4826 * 0.01)


def utc_day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


EXPECTED_BY_AGENT = [
    (utc_day("2026-11-25"), "beta", "p95_ms", 5000.0, 1015.0, 10.0, BETA_Z),
    (utc_day("2026-11-26"), "alpha", "cost_usd", 1.0, 0.105, 0.01, ALPHA_Z),
    (utc_day("2026-11-24"), "weekly", "cost_usd", 1.0, 0.11, 0.01, WEEKLY_Z),
    (utc_day("2026-11-27"), "gamma", "failure_rate", 75.0, 0.0, 0.0, GAMMA_Z),
]


@pytest.fixture
def client(db_url: str) -> Analytics:
    series.load(db_url)
    return connect(db_url, now=lambda: NOW)


def _found(frame: pd.DataFrame) -> list[tuple[object, ...]]:
    return [
        (r.day, r.group, r.metric, r.value, r.baseline_median, r.baseline_mad, r.z)
        for r in frame.itertuples()
    ]


def _assert_rows(frame: pd.DataFrame, expected: list[tuple[object, ...]]) -> None:
    found = _found(frame)
    assert [row[:3] for row in found] == [row[:3] for row in expected]
    for got, want in zip(found, expected, strict=True):
        assert got[3:] == pytest.approx(want[3:], rel=1e-5, abs=1e-9)


def _assert_sketched(
    frame: pd.DataFrame, expected: list[tuple[object, ...]] = EXPECTED_BY_AGENT
) -> None:
    """`_assert_rows` for a scan with P95 from the sketches: the P95 row's value and median within
    1% (its MAD, between values a sketch bucket apart, is not comparable), the others exact."""
    assert [row[:3] for row in _found(frame)] == [row[:3] for row in expected]
    for got, want in zip(_found(frame), expected, strict=True):
        if got[2] == "p95_ms":
            assert got[3:5] == pytest.approx(want[3:5], rel=0.01)
        else:
            assert got[3:] == pytest.approx(want[3:], rel=1e-5, abs=1e-9)


def test_by_agent_flags_exactly_the_spikes(client: Analytics) -> None:
    table = client.anomalies(start_date=START_DATE, end_date=END_DATE)
    frame = table.to_frame()
    assert list(frame.columns) == COLUMNS
    _assert_rows(frame, EXPECTED_BY_AGENT)
    assert set(frame["by"]) == {"agent"}
    assert set(frame["direction"]) == {"up"}
    assert set(frame["baseline"]) == {"weekday"}
    assert set(frame["baseline_points"]) == {4}
    assert frame["day"].dt.tz is not None
    assert frame.attrs["title"] == "Anomalies by agent"


def test_through_the_sketches_the_same_days_are_flagged(
    client: Analytics, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read from the rollups with P95 from the sketches (as above 100k executions): the cost and
    failure rows are exact, the P95 row's value and median within 1% (its MAD, between values a
    sketch bucket apart, is not comparable); exact=True reads the raw rows."""
    monkeypatch.setattr(rollup_buckets, "EXACT_BUCKET_PERCENTILES_UP_TO", 0)
    _assert_sketched(client.anomalies(start_date=START_DATE, end_date=END_DATE).frame)
    exact = client.anomalies(start_date=START_DATE, end_date=END_DATE, exact=True).frame
    _assert_rows(exact, EXPECTED_BY_AGENT)
    scoped = client.scoped("00000000-0000-0000-0000-000000000001")
    assert scoped.anomalies(start_date=START_DATE, end_date=END_DATE).frame.empty


def _delete_first_gamma_run(engine: Engine, since: datetime) -> None:
    """Delete gamma's first run from `since` on with plain SQL (its hour is then read raw)."""
    with engine.begin() as connection:
        executions = AgentExecution.__table__
        first = select(func.min(executions.c.started_at)).where(
            executions.c.agent_name == "gamma", executions.c.started_at >= since
        )
        connection.execute(
            executions.delete().where(executions.c.started_at == first.scalar_subquery())
        )


def test_daily_figures_through_the_rollups_are_the_raw_ones(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every (day, agent) and (day, model) figure the scan judges, read from the rollups (the
    series rebuilt into them, a user's runs added by the writer) and from the raw rows where an
    hour changed behind them (a deleted run): cost and failure rate exactly the raw ones, P95
    within 1%, the same labels."""
    series.load(db_url)
    engine = get_engine(db_url)
    rebuild_rollups(engine)
    write_batch(engine, [
        execution(series.day(30).replace(tzinfo=None) + timedelta(hours=h), agent="beta",
                  model="gpt-4o", status="failure" if h % 3 else "success", time_ms=50 * h,
                  cost="0.300000", user_id=ALICE)
        for h in range(12)
    ])  # fmt: skip
    _delete_first_gamma_run(engine, since=series.day(31))
    monkeypatch.setattr(rollup_buckets, "EXACT_BUCKET_PERCENTILES_UP_TO", 0)
    source = connect(db_url, now=lambda: NOW)._source
    span = Window(series.day(0), series.day(series.DAYS), False, "the series")
    fast = anomalies_module.daily_figures(source, span, ("agent", "model"))
    audit = anomalies_module.daily_figures(source, span, ("agent", "model"), exact=True)
    for by in ("agent", "model"):
        (fast_series, fast_labels), (raw_series, raw_labels) = fast[by], audit[by]
        assert fast_labels == raw_labels
        assert {key: sorted(days) for key, days in fast_series.items()} == {
            key: sorted(days) for key, days in raw_series.items()
        }
        # the added "beta" runs have no agent_id: an agent of their own; their model is alpha's
        assert len(raw_series) == (6 if by == "agent" else 5)
        for key, days in raw_series.items():
            for day, want in days.items():
                got = fast_series[key][day]
                assert (got.cost_usd, got.failure_rate) == (want.cost_usd, want.failure_rate)
                assert got.p95_ms == pytest.approx(want.p95_ms, rel=0.01)


def test_a_scan_through_the_rollups_says_so(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scan read its P95 from the rollups' sketches and said `source` "raw", with no note:
    an audit would take the z-scores for exact ones."""
    series.load(db_url)
    rebuild_rollups(get_engine(db_url))
    monkeypatch.setattr(rollup_buckets, "EXACT_BUCKET_PERCENTILES_UP_TO", 0)  # a big database
    analytics = connect(db_url, now=lambda: NOW)
    fast = analytics.anomalies("7d")
    audit = analytics.anomalies("7d", exact=True)
    assert (fast.source, audit.source) == ("rollup", "raw")
    note = (
        "P95 per day from the rollups' latency sketches, within 1% of exact (exact=True / "
        "--exact reads the raw rows)"
    )
    assert (note in fast.notes, note in audit.notes) == (True, False)


def test_a_repeated_scan_judges_again_only_what_changed(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the rollups, a second scan of the same rows gives the same rows without working
    out the figures again; a late run (written by the writer into a judged day) and a delete
    (an hour then read raw) each change what the next scan finds."""
    series.load(db_url)
    engine = get_engine(db_url)
    rebuild_rollups(engine)
    monkeypatch.setattr(rollup_buckets, "EXACT_BUCKET_PERCENTILES_UP_TO", 0)
    worked_out: list[str] = []
    original = anomalies_module._rollup_series

    def counted(cells: rollup_buckets.Cells, by: str, newest: dict) -> object:
        worked_out.append(by)
        return original(cells, by, newest)  # type: ignore[arg-type]

    monkeypatch.setattr(anomalies_module, "_rollup_series", counted)
    client = connect(db_url, now=lambda: NOW)

    def scan() -> pd.DataFrame:
        return client.anomalies(start_date=START_DATE, end_date=END_DATE).frame

    _assert_sketched(scan())
    _assert_sketched(scan())
    assert worked_out == ["agent"]

    late = execution(series.day(31).replace(tzinfo=None) + timedelta(hours=20), agent="alpha",
                     cost="1.000000", time_ms=800, tokens=(10, 10), user_id=None)  # fmt: skip
    late.execution["agent_id"] = series.AGENT_IDS["alpha"]
    write_batch(engine, [late])
    # alpha's day 31 now costs 2.00 against the same baseline (median 0.105, MAD 0.01)
    alpha = (utc_day("2026-11-26"), "alpha", "cost_usd", 2.0, 0.105, 0.01,
             (2.0 - 0.105) / (1.4826 * 0.01))  # fmt: skip
    expected = [alpha if row[1] == "alpha" else row for row in EXPECTED_BY_AGENT]
    _assert_sketched(scan(), expected)
    assert worked_out == ["agent", "agent"]

    _delete_first_gamma_run(engine, since=series.day(32))  # a failed one
    # gamma's day 32: 14 of 19 runs failed
    gamma = (utc_day("2026-11-27"), "gamma", "failure_rate", 1400 / 19, 0.0, 0.0,
             1400 / 19 / (1.253314 * 6.25))  # fmt: skip
    expected = [gamma if row[1] == "gamma" else row for row in expected]
    _assert_sketched(scan(), expected)
    assert worked_out == ["agent", "agent", "agent"]


def test_by_model_groups_by_the_execution_model(client: Analytics) -> None:
    frame = client.anomalies(start_date=START_DATE, end_date=END_DATE, by="model").frame
    models = {"beta": "claude", "alpha": "gpt-4o", "weekly": "weekly", "gamma": "acme"}
    expected = [(d, models[g], *rest) for d, g, *rest in EXPECTED_BY_AGENT]
    _assert_rows(frame, expected)


@pytest.mark.parametrize("sketches", [False, True], ids=["raw", "rollups"])
def test_both_groupings_from_one_call(
    client: Analytics, monkeypatch: pytest.MonkeyPatch, sketches: bool
) -> None:
    """by=["agent", "model"]: each spike once per grouping (every agent here runs one model, so
    the z values pair up), most extreme first, the agent's row before the model's at equal z;
    the same rows as the two calls each give, through the raw rows and through the sketches."""
    if sketches:
        monkeypatch.setattr(rollup_buckets, "EXACT_BUCKET_PERCENTILES_UP_TO", 0)
    both = client.anomalies(start_date=START_DATE, end_date=END_DATE, by=["agent", "model"])
    models = {"beta": "claude", "alpha": "gpt-4o", "weekly": "weekly", "gamma": "acme"}
    expected = [
        (by, group if by == "agent" else models[group], metric)
        for _, group, metric, *_ in EXPECTED_BY_AGENT
        for by in ("agent", "model")
    ]
    found = zip(both.frame["by"], both.frame["group"], both.frame["metric"], strict=True)
    assert list(found) == expected
    assert both.title == "Anomalies by agent and model"
    one_by_one = pd.concat(
        [client.anomalies(start_date=START_DATE, end_date=END_DATE, by=by).frame
         for by in ("agent", "model")],
        ignore_index=True,
    ).sort_values("z", key=abs, ascending=False, kind="stable", ignore_index=True)  # fmt: skip
    pd.testing.assert_frame_equal(both.frame, one_by_one, check_like=False, check_flags=False)


def test_new_agent_is_not_judged_before_fourteen_days_of_history(client: Analytics) -> None:
    """delta runs from day 25 only: its 9.99 on day 33 has 8 days of history behind it."""
    frame = client.anomalies(start_date=START_DATE, end_date=END_DATE).frame
    assert "delta" not in set(frame["group"])


def test_weekday_seasonality(client: Analytics) -> None:
    """weekly costs 1.00 every Monday: Monday 2026-11-23 is its normal, Tuesday's 1.00 is not."""
    frame = client.anomalies(start_date=START_DATE, end_date=END_DATE, agent="weekly").frame
    assert _found(frame)[0][:3] == (utc_day("2026-11-24"), "weekly", "cost_usd")
    assert len(frame) == 1


def test_filters_and_threshold(client: Analytics) -> None:
    only_alpha = client.anomalies(start_date=START_DATE, end_date=END_DATE, agent="alpha").frame
    assert list(only_alpha["group"]) == ["alpha"]
    claude = client.anomalies(start_date=START_DATE, end_date=END_DATE, model="claude").frame
    assert list(claude["group"]) == ["beta"]
    # gamma's z (9.57) is the smallest: a threshold of 10 leaves the other three
    strict = client.anomalies(start_date=START_DATE, end_date=END_DATE, threshold=10).frame
    assert list(strict["group"]) == ["beta", "alpha", "weekly"]


@pytest.mark.parametrize("narrow", [{"agent": "alpha"}, {"model": "claude"}])
def test_a_narrowed_scan_through_the_sketches_is_the_raw_one(
    client: Analytics, monkeypatch: pytest.MonkeyPatch, narrow: dict[str, str]
) -> None:
    """One agent or one model read from the rollups (P95 from the sketches, as above 100k
    executions) flags the rows the raw scan flags, with the same cost and failure figures."""
    monkeypatch.setattr(rollup_buckets, "EXACT_BUCKET_PERCENTILES_UP_TO", 0)
    window = {"start_date": START_DATE, "end_date": END_DATE, **narrow}
    audit = client.anomalies(**window, exact=True).frame

    def no_raw_read(*_: object) -> None:
        raise AssertionError("the narrowed scan read the raw rows")

    monkeypatch.setattr(anomalies_module, "_raw_daily_figures", no_raw_read)
    fast = client.anomalies(**window).frame
    assert [row[:3] for row in _found(fast)] == [row[:3] for row in _found(audit)]
    assert len(fast) == 1
    for got, want in zip(_found(fast), _found(audit), strict=True):
        tolerance = 0.01 if got[2] == "p95_ms" else 1e-9
        assert got[3:5] == pytest.approx(want[3:5], rel=tolerance)


def test_user_scope(client: Analytics) -> None:
    """The series' executions belong to no user: a user's scoped client sees no anomaly."""
    scoped = client.scoped("00000000-0000-0000-0000-000000000001")
    assert scoped.anomalies(start_date=START_DATE, end_date=END_DATE).frame.empty


def test_period_judges_complete_days_only(client: Analytics) -> None:
    """A 7d period at Monday 12:00 starts on Monday 2026-11-23 12:00: its complete days are
    2026-11-23 to 2026-11-29; today (under way) is not judged."""
    frame = client.anomalies("7d").frame
    assert sorted(frame["group"]) == ["alpha", "beta", "gamma", "weekly"]
    empty = client.anomalies("6h")
    assert empty.frame.empty
    assert empty.notes == ("the window holds no complete UTC day to judge",)


def test_flat_series_without_spikes_gives_nothing(client: Analytics) -> None:
    """Before the spikes (window 2026-11-23 to 2026-11-24 minus weekly's Tuesday) nothing."""
    frame = client.anomalies(start_date="2026-11-23", end_date="2026-11-23").frame
    assert frame.empty
    assert list(frame.columns) == COLUMNS


def test_seeded_data_gives_no_anomalies(db_url: str) -> None:
    """The kit's demo data (seed 42): a few runs a day per agent or model, whose failure rates
    and P95s jump by chance (0 % or 100 % of one run); none of it is an anomaly."""
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    seed_database(db_url, seed=42, now=now)
    client = connect(db_url, now=lambda: now)
    for by in ("agent", "model"):
        frame = client.anomalies("60d", by=by).frame
        assert frame.empty, frame.to_string()


def test_days_with_few_runs_are_not_judged(db_url: str) -> None:
    """alpha's spike day with 9 of its 10 runs removed has too few runs to count."""
    rows = [row for row in series.rows() if row["agent_name"] == "alpha"]
    spike = [row for row in rows if row["started_at"].day == 26 and row["started_at"].month == 11]
    assert len(spike) == 10
    kept = [row for row in rows if row not in spike[1:]]
    series.load(db_url, kept)
    client = connect(db_url, now=lambda: NOW)
    assert client.anomalies(start_date=START_DATE, end_date=END_DATE).frame.empty


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"by": "user"}, "by must be one of agent, model; got 'user'"),
        ({"by": ["agent", "user"]}, "by must be one of agent, model; got 'user'"),
        ({"by": []}, "by needs at least one of agent, model; got none"),
        ({"baseline_days": 7}, "baseline_days must be a whole number 14-365; got 7"),
        ({"baseline_days": 2.5}, "baseline_days must be a whole number 14-365; got 2.5"),
        ({"threshold": 0}, "threshold must be a number above 0, e.g. 3.5; got 0"),
        ({"threshold": float("nan")}, "threshold must be a number above 0, e.g. 3.5; got nan"),
        ({"agent": ""}, "agent must be an agent id (UUID) or an agent name; got ''"),
    ],
)
def test_bad_arguments(client: Analytics, arguments: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError) as error:
        client.anomalies(start_date=START_DATE, end_date=END_DATE, **arguments)  # type: ignore[arg-type]
    assert str(error.value) == message


def test_small_changes_are_not_material(client: Analytics) -> None:
    """At a threshold of 0.1 nearly every change has a big enough z, but beta's days of 1000-1020
    ms against a median of 1000-1020 ms differ by under 10 %: only its 5000 ms day is flagged."""
    frame = client.anomalies(start_date=START_DATE, end_date=END_DATE, threshold=0.1).frame
    latency = frame[frame["metric"] == "p95_ms"]
    assert list(zip(latency["group"], latency["day"], strict=True)) == [
        ("beta", utc_day("2026-11-25"))
    ]
    # alpha's ordinary days move by 0.01-0.02 a day: material at $0.01, so flagged at z 0.1
    assert len(frame[(frame["group"] == "alpha") & (frame["metric"] == "cost_usd")]) > 1


def _reference_z(value: float, like: list[float], past: list[float]) -> tuple[float, float, float]:
    """(median, MAD, z) by the rule the module states, one day at a time in plain Python."""
    median = statistics.median(like)
    centre = statistics.median(past)
    deviations = [abs(x - centre) for x in past]
    mad = statistics.median(deviations)
    scale = 1.4826 * mad or 1.253314 * statistics.fmean(deviations)
    change = value - median
    if scale:
        return median, mad, change / scale
    return median, mad, 0.0 if change == 0 else math.copysign(math.inf, change)


def _reference(
    figures: dict[date, anomalies_module.DayFigures], days: list[date], threshold: float
) -> list[tuple[object, ...]]:
    found = []
    for day in days:
        if day not in figures:
            continue
        for metric in anomalies_module.METRICS:
            value = figures[day].metric(metric)
            past = [
                (earlier, v)
                for offset in range(1, 29)
                if (earlier := day - timedelta(days=offset)) in figures
                and (v := figures[earlier].metric(metric)) is not None
            ]
            if value is None or len(past) < 14:
                continue
            values = [v for _, v in past]
            weekday = [v for earlier, v in past if earlier.weekday() == day.weekday()]
            like = weekday if len(weekday) >= 3 else values
            median, mad, z = _reference_z(value, like, values)
            if abs(z) >= threshold and anomalies_module.material(metric, value, median):
                found.append((day, metric, value, median, mad, z, len(like)))
    return found


def test_every_day_judged_at_once_equals_one_day_at_a_time() -> None:
    """The judgement of all of a group's days at once (arrays) gives, for random series with
    gaps, missing P95s, weekly patterns and flat stretches (MAD 0, infinite z), exactly what the
    rule gives day by day."""
    rng = random.Random(8)
    first = date(2026, 6, 1)
    series_by_group: dict[str, dict[date, anomalies_module.DayFigures]] = {}
    for group in range(12):
        figures = {}
        for offset in range(120):
            if rng.random() < 0.15:
                continue  # a day without enough runs
            flat = group % 4 == 0 and offset < 90
            figures[first + timedelta(days=offset)] = anomalies_module.DayFigures(
                cost_usd=0.5 if flat else round(rng.choice([0.1, 0.11, 0.12, 2.0]), 2),
                p95_ms=None if rng.random() < 0.1 else float(rng.choice([900, 1000, 1010, 4000])),
                failure_rate=0.0 if flat else rng.choice([0.0, 0.0, 10.0, 60.0]),
            )
        series_by_group[f"g{group}"] = figures
    days = [first + timedelta(days=offset) for offset in range(28, 120)]
    labels = {group: group for group in series_by_group}
    found = anomalies_module.find_anomalies(series_by_group, labels, days, "agent", 28, 2.0)
    expected = []
    for group, figures in series_by_group.items():
        expected += [(group, *row) for row in _reference(figures, days, 2.0)]
    assert len(found) == len(expected) > 100
    got = {
        (r["group"], r["day"].date(), r["metric"]): (
            r["value"], r["baseline_median"], r["baseline_mad"], r["z"], r["baseline_points"]
        )
        for r in found
    }  # fmt: skip
    for group, day, metric, value, median, mad, z, points in expected:
        rounded = anomalies_module.rounded
        want = (rounded(value), rounded(median), rounded(mad), z if math.isinf(z) else rounded(z))
        assert got[(group, day, metric)] == (*want, points)
    assert any(math.isinf(r["z"]) for r in found)
    assert {r["baseline"] for r in found} == {"weekday", "all days"}
