"""Prompt caching by model, on hand-made usage rows (rates: genai-prices' bundled data).

claude-sonnet-4: input $3, cache read $0.30, cache write $3.75 per 1M; gpt-4o: input $2.50,
cache read $1.25, no cache write rate (the input rate)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from aa_notebooks.analytics import connect
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import TokenUsage
from aa_notebooks.tracking.record import ExecutionRecord
from aa_notebooks.tracking.store import write_batch
from tests.budgets.conftest import insert_directly
from tests.cli.test_database_commands import run
from tests.db.rollups.helpers import execution, usage

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
CLAUDE = "claude-sonnet-4-20250514"


def _usage(url: str, execution: uuid.UUID, model: str, tokens: int, read, write) -> None:  # type: ignore[no-untyped-def]
    row = {"id": uuid.uuid4(), "execution_id": execution, "model": model, "input_tokens": tokens,
           "output_tokens": 0, "cost_usd": Decimal(0), "cache_read_tokens": read,
           "cache_write_tokens": write}  # fmt: skip
    with get_engine(url).begin() as connection:
        connection.execute(TokenUsage.__table__.insert().values(**row))


@pytest.fixture
def cached(db_url: str) -> str:
    inside = insert_directly(db_url, "0.01", NOW - timedelta(hours=2))["id"]
    other = insert_directly(db_url, "0.01", NOW - timedelta(days=1))["id"]
    old = insert_directly(db_url, "0.01", NOW - timedelta(days=30))["id"]
    _usage(db_url, inside, CLAUDE, 10_000, 6_000, 1_000)
    _usage(db_url, inside, "gpt-4o", 2_000, 1_000, None)
    _usage(db_url, other, "gpt-4o", 1_000, None, None)
    _usage(db_url, old, "gpt-4o", 9_000, 5_000, None)  # outside the 7-day window
    return db_url


def test_hit_share_and_saving_by_hand(cached: str) -> None:
    table = connect(cached, now=lambda: NOW).cache_savings("7d")
    rows = table.frame.to_dict("records")
    # claude: 6,000 of 10,000 read (60%); saved 6,000 * (3 - 0.30) + 1,000 * (3 - 3.75) =
    # 16,200 - 750 = 15,450 per 1M. gpt-4o: 1,000 of 2,000 + 1,000 (33.3%); saved
    # 1,000 * (2.50 - 1.25) = 1,250 per 1M.
    assert [
        (r["model"], r["input_tokens"], r["cache_read_tokens"], r["cache_write_tokens"],
         r["cache_hit_share"], r["saved_usd"])
        for r in rows
    ] == [
        (CLAUDE, 10_000, 6_000, 1_000, 60.0, pytest.approx(0.01545)),
        ("gpt-4o", 3_000, 1_000, 0, 33.3, pytest.approx(0.00125)),
    ]  # fmt: skip


def test_the_command_line(cached: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--db", cached, "cache", "--period", "90d", "--format", "csv")
    assert code == 0
    assert out.splitlines()[0] == (
        "model,input_tokens,cache_read_tokens,cache_write_tokens,cache_hit_share,saved_usd"
    )
    assert out.splitlines()[1].startswith(f"{CLAUDE},10000,6000,1000,60.0,")
    assert out.splitlines()[2].startswith("gpt-4o,12000,6000,0,50.0,")  # the old row too


def test_the_overview_adds_the_whole_windows_share_and_saving(cached: str) -> None:
    """7 days: 7,000 of 13,000 input tokens read from the cache (53.8%), saving $0.01545 +
    $0.00125 = $0.0167. Without caching=True the overview leaves both out (None)."""
    analytics = connect(cached, now=lambda: NOW)
    found = analytics.overview("7d", caching=True)
    assert (found.cache_hit_share, found.cache_saved_usd) == (53.8, Decimal("0.016700"))
    assert "53.8% of input read from cache, saving $0.02" in str(found)  # cents, as shown
    assert found.to_frame()["cache_saved_usd"].tolist() == [0.0167]
    plain = analytics.overview("7d")
    assert (plain.cache_hit_share, plain.cache_saved_usd) == (None, None)
    assert "Prompt cache" not in str(plain)


def test_the_overview_command_takes_caching(
    cached: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--db", cached, "overview", "--period", "90d", "--caching")
    assert code == 0
    # 90 days: 12,000 of 22,000 read (54.5%); the old row adds 5,000 * $1.25 per 1M = $0.00625.
    assert "54.5% of input read from cache, saving $0.02" in out  # $0.02295, in cents


def test_through_the_rollups_by_hand(db_url: str) -> None:
    """The same usage rows written by the kit's writer (so the cache rollup holds them): the
    7-day window reads its whole hours from the rollup and gives the hand-worked rows above."""
    runs = [
        (NOW - timedelta(hours=2, minutes=30), [(CLAUDE, 10_000, 6_000, 1_000),
                                                ("gpt-4o", 2_000, 1_000, None)]),
        (NOW - timedelta(days=1), [("gpt-4o", 1_000, None, None)]),
        (NOW - timedelta(days=30), [("gpt-4o", 9_000, 5_000, None)]),
    ]  # fmt: skip
    records = []
    for started, usages in runs:
        run = execution(started.replace(tzinfo=None))
        rows = tuple(
            {**usage(run.execution["id"], model, tokens, 0, "0"),
             "cache_read_tokens": read, "cache_write_tokens": write}
            for model, tokens, read, write in usages
        )  # fmt: skip
        records.append(ExecutionRecord(run.execution, (), rows))
    write_batch(get_engine(db_url), records)
    client = connect(db_url, now=lambda: NOW)
    fast, audit = client.cache_savings("7d"), client.cache_savings("7d", exact=True)
    assert (fast.source, audit.source) == ("rollup", "raw")
    assert fast.frame.to_dict("records") == audit.frame.to_dict("records")
    assert [
        (r["model"], r["input_tokens"], r["cache_read_tokens"], r["cache_write_tokens"],
         r["cache_hit_share"], r["saved_usd"])
        for r in fast.frame.to_dict("records")
    ] == [
        (CLAUDE, 10_000, 6_000, 1_000, 60.0, pytest.approx(0.01545)),
        ("gpt-4o", 3_000, 1_000, 0, 33.3, pytest.approx(0.00125)),
    ]  # fmt: skip
    overview = client.overview("7d", caching=True)
    assert overview.cache_hit_share == pytest.approx(100 * 7_000 / 13_000, abs=0.05)
