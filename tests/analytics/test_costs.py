"""`cost_summary` by model, agent, user and day, and `cost_forecast`."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd
import pytest

from aa_notebooks.analytics import Analytics, connect
from aa_notebooks.analytics import forecast as forecast_module
from aa_notebooks.cli import main
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import AgentExecution
from aa_notebooks.errors import InvalidInputError
from aa_notebooks.tracking.store import write_batch
from tests.analytics.dataset import DROP, NOW, SCRIPT, U1, U2, UNPRICED
from tests.db.rollups.helpers import ALICE, execution


def test_cost_by_model(analytics: Analytics) -> None:
    result = analytics.cost_summary(by="model")
    frame = result.frame
    assert list(frame["model"]) == ["gpt-4o", "claude-3-5-sonnet", UNPRICED]  # costliest first
    assert list(frame["priced"]) == [True, True, False]
    assert list(frame["executions"]) == [4, 3, 1]  # E01 E02 E04 E07 | E03 E06 E08 | E05
    assert list(frame["input_tokens"]) == [710, 950, 1000]
    assert list(frame["output_tokens"]) == [150, 325, 500]
    assert list(frame["total_tokens"]) == [860, 1275, 1500]
    assert list(frame["cost_usd"]) == [0.0086, 0.007425, 0.0]
    # shares of 0.016025: 0.0086 -> 53.6661466..., 0.007425 -> 46.3338533...
    assert list(frame["cost_share"]) == [53.666147, 46.333853, 0.0]
    assert result.notes == (
        f"Unpriced models (their calls count as $0): {UNPRICED}",
        "Cost coverage: 58.7% of tokens are priced by a known price",  # 2,135 of 3,635
    )


def test_cost_by_agent_user_and_day(analytics: Analytics) -> None:
    agents = analytics.cost_summary(by="agent").frame
    assert list(agents["agent"]) == ["researcher", "planner", DROP, SCRIPT]
    assert list(agents["cost_usd"]) == [0.0063, 0.0046, 0.004, 0.001125]
    users = analytics.cost_summary(by="user").frame
    assert list(users["user_id"]) == [str(U1), str(U2)]
    assert list(users["cost_usd"]) == [0.011025, 0.005]  # E01 E02 E05 E06 E08 | E03 E04 E07
    assert list(users["executions"]) == [5, 3]
    days = analytics.cost_summary(by="day").frame
    assert list(days["day"]) == list(pd.date_range("2026-11-18", periods=8, freq="D", tz="UTC"))
    assert list(days["executions"]) == [2, 0, 1, 0, 1, 1, 1, 2]
    assert list(days["cost_usd"]) == [0.0093, 0.0, 0.0001, 0.0, 0.0, 0.004, 0.000225, 0.0024]
    assert days["cost_usd"].sum() == pytest.approx(0.016025)


BOB = uuid.UUID("b0b00000-0000-4000-8000-000000000002")


def _runs_across_a_window(url: str) -> None:
    """Runs around the 36 hours to 2024-06-02 05:20 (from 2024-05-31 17:20): inside, in
    partial hours at both ends (read raw), whole hours and a whole day (read from the rollups);
    outside, one a little before and one a little after."""
    write_batch(get_engine(url), [
        execution(datetime(2024, 5, 31, 17, 10), tokens=(1, 1), cost="5.000000"),  # before
        execution(datetime(2024, 5, 31, 17, 30), tokens=(10, 5), cost="0.001000"),
        execution(datetime(2024, 5, 31, 18), user_id=BOB, tokens=(20, 10), cost="0.002500"),
        execution(datetime(2024, 6, 1, 12), tokens=(100, 50), cost="0.010000"),
        execution(datetime(2024, 6, 1, 23, 59, 59), user_id=None, tokens=(1, 2),
                  cost="0.000003"),
        execution(datetime(2024, 6, 2, 5, 10), user_id=BOB, tokens=(3, 3), cost="0.000009"),
        execution(datetime(2024, 6, 2, 5, 30), user_id=BOB, tokens=(7, 7), cost="1.000000"),
    ])  # fmt: skip


def test_cost_by_user_and_day_through_the_rollups(db_url: str) -> None:
    _runs_across_a_window(db_url)
    client = connect(db_url, now=lambda: datetime(2024, 6, 2, 5, 20, tzinfo=UTC))
    users = client.cost_summary(period="36h", by="user")
    assert users.source == "rollup"
    frame = users.frame
    assert list(frame["user_id"][:2]) == [str(ALICE), str(BOB)]  # costliest first
    assert pd.isna(frame["user_id"][2])  # no user: last
    assert list(frame["executions"]) == [2, 2, 1]
    assert list(frame["input_tokens"]) == [110, 23, 1]
    assert list(frame["output_tokens"]) == [55, 13, 2]
    assert list(frame["total_tokens"]) == [165, 36, 3]
    assert list(frame["cost_usd"]) == [0.011, 0.002509, 0.000003]
    days = client.cost_summary(period="36h", by="day")
    assert days.source == "rollup"
    frame = days.frame
    assert list(frame["day"]) == list(pd.date_range("2024-05-31", periods=3, freq="D", tz="UTC"))
    assert list(frame["executions"]) == [2, 2, 1]
    assert list(frame["input_tokens"]) == [30, 101, 3]
    assert list(frame["output_tokens"]) == [15, 52, 3]
    assert list(frame["total_tokens"]) == [45, 153, 6]
    assert list(frame["cost_usd"]) == [0.0035, 0.010003, 0.000009]
    for by in ("user", "day", "agent", "model"):
        fast, audit = (client.cost_summary(period="36h", by=by, exact=e) for e in (False, True))
        assert (fast.source, audit.source) == ("rollup", "raw")
        pd.testing.assert_frame_equal(fast.frame, audit.frame)


def test_costs_command_reads_raw_with_exact(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _runs_across_a_window(db_url)
    window = ["--start-date", "2024-05-31", "--end-date", "2024-06-01", "--format", "json"]
    found = {}
    for extra in ([], ["--exact"]):
        assert main(["--db", db_url, "costs", "--by", "day", *window, *extra]) == 0
        found[bool(extra)] = json.loads(capsys.readouterr().out)
    assert (found[False].pop("source"), found[True].pop("source")) == ("rollup", "raw")
    assert found[False] == found[True]
    assert [day["executions"] for day in found[True]["frame"]] == [3, 2]


def test_cost_summary_scoped_and_errors(analytics_u1: Analytics) -> None:
    frame = analytics_u1.cost_summary(by="model").frame
    assert list(frame["model"]) == ["claude-3-5-sonnet", "gpt-4o", UNPRICED]
    assert list(frame["cost_usd"]) == [0.006525, 0.0045, 0.0]
    with pytest.raises(InvalidInputError, match="by must be one of model, agent, user, day"):
        analytics_u1.cost_summary(by="flow")


def test_forecast_from_the_last_7_complete_days(analytics: Analytics) -> None:
    forecast = analytics.cost_forecast()
    assert forecast.month_start == datetime(2026, 11, 1, tzinfo=UTC)
    assert forecast.month_end == datetime(2026, 12, 1, tzinfo=UTC)
    assert forecast.window.start == datetime(2026, 11, 18, tzinfo=UTC)
    assert forecast.window.end == datetime(2026, 11, 25, tzinfo=UTC)
    # November to now: E01..E09 and E10 (E11 is in the future)
    assert forecast.actual_to_date_usd == Decimal("1.516025")
    # days 18..24: 1.0093 (E09 E02 E08), 0, 0.0001, 0, 0 (E05), 0.004, 0.000225 -> 1.013625
    assert list(forecast.daily["cost_usd"]) == [1.0093, 0.0, 0.0001, 0.0, 0.0, 0.004, 0.000225]
    assert forecast.daily_rate_usd == Decimal("0.144804")  # 1.013625 / 7
    assert forecast.remaining_days == Decimal("5.5")  # 12:00 on the 25th to December
    # 1.516025 + 1.013625 / 7 x 5.5 = 2.3124446...
    assert forecast.projected_usd == Decimal("2.312445")
    assert forecast.low_usd == Decimal("1.516025")  # lowest day costs 0
    assert forecast.high_usd == Decimal("7.067175")  # 1.516025 + 1.0093 x 5.5
    assert "last 7 complete days" in forecast.method
    assert "lowest/highest daily cost" in forecast.method


def test_forecast_lookbacks(analytics: Analytics) -> None:
    fortnight = analytics.cost_forecast("14d")  # same costs over 14 days
    assert fortnight.daily_rate_usd == Decimal("0.072402")  # 1.013625 / 14
    assert fortnight.projected_usd == Decimal("1.914235")  # 1.516025 + 0.0724017857 x 5.5
    one_day = analytics.cost_forecast(start_date="2026-11-24", end_date="2026-11-24")
    assert one_day.daily_rate_usd == Decimal("0.000225")
    # 1.516025 + 0.000225 x 5.5 = 1.5172625 -> half up
    assert one_day.projected_usd == one_day.low_usd == one_day.high_usd == Decimal("1.517263")
    with pytest.raises(InvalidInputError, match="the lookback 2026-11-27 to 2026-11-28 has not"):
        analytics.cost_forecast(start_date="2026-11-27", end_date="2026-11-28")  # was a bare
        # decimal.InvalidOperation: a division by no days gone by
    ahead = analytics.cost_forecast(start_date="2026-11-24", end_date="2026-11-30")
    # the 24th (E06) and the 25th (E03, E01, E11 a minute ahead); the 26th to the 30th have
    # not come, and counted as $0 days: the band's low end was the month to date
    assert list(ahead.daily["cost_usd"]) == [0.000225, 2.0024]
    assert [day.day for day in ahead.daily["day"]] == [24, 25]
    assert ahead.daily_rate_usd == Decimal("1.335083")  # 2.002625 / 1.5 days gone by
    assert ahead.projected_usd == Decimal("8.858983")  # 1.516025 + 2.002625 / 1.5 x 5.5
    # the band: the complete days (the 24th alone) and the mean; the 25th, half gone by, counts
    # in the mean only (the band took its 2.0024 as a whole day's: with the 25th alone, the
    # projection lay above the band)
    assert ahead.low_usd == Decimal("1.517263")  # 1.516025 + 0.000225 x 5.5
    assert ahead.high_usd == ahead.projected_usd  # the mean is above the 24th
    today = analytics.cost_forecast(start_date="2026-11-25", end_date="2026-11-25")
    assert today.daily_rate_usd == Decimal("4.004800")  # 2.0024 in the half day gone by
    # no complete day: the band is the mean's: 1.516025 + 4.0048 x 5.5
    assert today.low_usd == today.projected_usd == today.high_usd == Decimal("23.542425")
    assert ahead.note is None  # executions start long before


def test_forecast_notes_lookback_days_before_the_first_execution(analytics: Analytics) -> None:
    """A new deployment's rate was diluted by days before its first run, and nothing said so.
    The first execution is E12, 40 days before NOW: 2026-10-16 12:00. The 60 complete days
    before the 25th start on 2026-09-26; Sep 26 to Oct 15 (20 days) end before E12."""
    sixty = analytics.cost_forecast("60d")
    assert sixty.note == (
        "executions start on 2026-10-16: 20 of the 60 lookback days come before, as $0 days; "
        "for the rate since then, give --start-date 2026-10-16 (start_date=...)"
    )
    assert ("Note", sixty.note) in sixty._facts()
    assert analytics.cost_forecast("30d").note is None  # Oct 26 on: E12 is before it
    early = analytics.cost_forecast(start_date="2026-10-01", end_date="2026-10-10")
    assert early.note == (
        "executions start on 2026-10-16, after the lookback: all its days are $0 days; choose "
        "a lookback that ends later"
    )


def _forecast_fields(forecast: object) -> tuple[object, ...]:
    names = ("actual_to_date_usd", "daily_rate_usd", "projected_usd", "low_usd", "high_usd")
    daily = forecast.daily  # type: ignore[attr-defined]
    days = list(zip(daily["day"], daily["cost_usd"], strict=True))
    return (*(getattr(forecast, name) for name in names), days)


def test_forecast_through_the_rollups_is_the_raw_one(
    loaded_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rollups answer (the raw sums would fail here) with the raw figures; after the
    1.0093 day's costliest execution is deleted behind them, its hour is read raw until a
    rebuild and the figures still agree, for all users and for one."""
    for client in (connect(loaded_url, now=lambda: NOW), connect(loaded_url, user_id=U2,
                                                                  now=lambda: NOW)):  # fmt: skip
        audit = _forecast_fields(client.cost_forecast(exact=True))
        with monkeypatch.context() as patched:
            patched.setattr(forecast_module, "_raw_daily", _refuse)
            assert _forecast_fields(client.cost_forecast()) == audit
    executions = AgentExecution.__table__
    with get_engine(loaded_url).begin() as connection:
        connection.execute(executions.delete().where(executions.c.cost_usd == Decimal("1")))
    client = connect(loaded_url, now=lambda: NOW)
    after = client.cost_forecast()
    assert after.actual_to_date_usd == Decimal("0.516025")
    assert _forecast_fields(after) == _forecast_fields(client.cost_forecast(exact=True))


def test_forecast_command_takes_exact(
    loaded_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`forecast --exact` never reads the rollups, and shows what the default shows."""
    monkeypatch.setattr("aa_notebooks.analytics.client.Analytics.now", lambda _self: NOW)
    command = ["--db", loaded_url, "forecast", "--format", "json"]
    assert main(command) == 0
    default = json.loads(capsys.readouterr().out)
    monkeypatch.setattr(forecast_module, "_rollup_daily", _refuse)
    assert main([*command, "--exact"]) == 0
    assert json.loads(capsys.readouterr().out) == default
    assert default["projected_usd"] == "2.312445"


def _refuse(*_: object) -> None:
    raise AssertionError("read the raw rows")


def test_forecast_for_one_user(loaded_url: str) -> None:
    forecast = connect(loaded_url, user_id=U2, now=lambda: NOW).cost_forecast()
    assert forecast.actual_to_date_usd == Decimal("0.505000")  # E03 E04 E07 E10
    assert forecast.projected_usd == Decimal("0.508221")  # 0.505 + 0.0041 / 7 x 5.5
    assert (forecast.low_usd, forecast.high_usd) == (Decimal("0.505000"), Decimal("0.527000"))
    assert forecast.to_frame()["projected_usd"].item() == 0.508221


def test_a_model_priced_where_the_agents_ran_is_not_called_unpriced_here(db_url: str) -> None:
    """The agents priced "house" with their own price file; this process reads none. Its runs
    carry $2.00 and $0.50: it is priced, and the tokens count as covered. "never-priced", with
    $0 stored, is still named (cost coverage: 1,500 + 150 of 1,700 tokens)."""
    started = datetime(2024, 6, 1, 10)
    write_batch(get_engine(db_url), [
        execution(started, model="house", tokens=(1000, 500), cost="2.000000"),
        execution(started, model="house", tokens=(100, 50), cost="0.500000"),
        execution(started, model="never-priced", tokens=(40, 10), cost="0.000000"),
    ])  # fmt: skip
    client = connect(db_url, now=lambda: datetime(2024, 6, 2, tzinfo=UTC))
    overview = client.overview(period="2d")
    assert overview.unpriced_models == ("never-priced",)
    assert overview.cost_coverage == pytest.approx(1650 / 1700 * 100)
    by_model = client.cost_summary(period="2d", by="model")
    assert dict(zip(by_model.frame["model"], by_model.frame["priced"], strict=True)) == {
        "house": True, "never-priced": False
    }  # fmt: skip
    assert [n for n in by_model.notes if n.startswith("Unpriced")] == [
        "Unpriced models (their calls count as $0): never-priced"
    ]


@pytest.mark.parametrize("exact", [True, False])
def test_cost_coverage_counts_tokens_whose_total_was_left_at_zero(db_url: str, exact: bool) -> None:
    """The document's DDL defaults total_tokens to 0: a writer that fills only the input and
    output tokens still has them counted (priced: gpt-4o's 60 + 40 of 1,600 tokens)."""
    started = datetime(2024, 6, 1, 10)
    records = [
        execution(started, model="gpt-4o", tokens=(60, 40), cost="0.000550"),
        execution(started, model=None, tokens=(1000, 500), cost="0.000000"),
    ]
    for record in records:
        record.execution["total_tokens"] = 0
    write_batch(get_engine(db_url), records)
    client = connect(db_url, now=lambda: datetime(2024, 6, 2, tzinfo=UTC))
    overview = client.overview(period="2d", exact=exact)
    assert overview.cost_coverage == pytest.approx(100 / 1600 * 100)


def test_runs_stored_at_zero_for_a_model_priced_now_are_noted(
    db_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs of `house` recorded before any price file knew it are stored at $0. Once a file
    prices it, the reading process counted the model as priced: no note, coverage 100%, the
    total still $0, and nothing said to reprice."""
    from aa_notebooks.pricing import reset_pricing_cache
    from aa_notebooks.tracking import Run

    run = Run(agent_name="a", model="house")
    run.tokens("main", "house", 1_000_000, 0)  # no price file: $0, with a warning
    tiny = []  # 3 tokens of gpt-4o-mini: $0.00000045 a run, stored (and repriced) as 0
    for _ in range(10):
        small = Run(agent_name="a", model="gpt-4o-mini")
        small.tokens("main", "gpt-4o-mini", 3, 0)
        tiny.append(small.finish())
    write_batch(get_engine(db_url), [run.finish(), *tiny])
    prices = tmp_path / "prices.toml"
    prices.write_text('[models."house"]\ninput_per_million = 2.0\noutput_per_million = 4.0\n')
    monkeypatch.setenv("AA_PRICING_FILE", str(prices))
    reset_pricing_cache()
    try:
        analytics = connect(db_url)
        note = (
            "Stored at $0, priced now: house (recorded before their price was known); "
            "`aa-notebooks reprice --start ... --end ...` prices their stored rows"
        )
        overview = analytics.overview("1d")
        assert (overview.total_cost_usd, overview.unpriced_models) == (Decimal(0), ())
        assert overview.stored_unpriced == ("house",)  # not gpt-4o-mini: its runs cost 0
        assert note in overview.to_frame().attrs["notes"]
        assert overview.to_frame().iloc[0]["stored_unpriced"] == "house"
        assert note in analytics.cost_summary(by="model").notes
    finally:
        monkeypatch.delenv("AA_PRICING_FILE")
        reset_pricing_cache()
