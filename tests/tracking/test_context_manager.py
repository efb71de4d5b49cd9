"""`tracker.execution(...)` as a `with` and an `async with` block records the execution, its
steps and its token usage, with totals, cost and times as the run module defines them."""

from __future__ import annotations

import asyncio
import time
import uuid
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest

from aa_notebooks.errors import InvalidInputError
from aa_notebooks.pricing import set_price_file
from aa_notebooks.tracking import Tracker, current_run
from aa_notebooks.tracking.ids import SESSION_NAMESPACE
from tests.tracking.conftest import counts, executions, steps, usages

ALICE = uuid.UUID("a11ce000-0000-4000-8000-000000000001")
# gpt-4o: $2.50 / $10.00 per 1M tokens; gpt-4o-mini: $0.15 / $0.60 per 1M.
GPT4O_1200_300 = Decimal("0.006000")
MINI_400_100 = Decimal("0.000120")


def test_sync_block_records_everything(db_url: str, tracker: Tracker) -> None:
    with tracker.execution(
        agent_name="researcher", query="Why? " * 40, agent_type="react", model="gpt-4o",
        user_id=str(ALICE), session_id="chat-42", flow_id="support",
    ) as run:  # fmt: skip
        assert current_run() is run
        plan = run.step("thought", "plan", duration_ms=120, input_tokens=1000, output_tokens=200)
        search = run.step("tool_call", "search('refunds')", duration_ms=300)
        time.sleep(0.02)
        run.step("observation", "3 results")
        assert run.tokens("main_agent", "gpt-4o", 1200, 300, step_number=plan) == GPT4O_1200_300
        run.tokens("tool_call", "gpt-4o-mini", 400, 100, step_number=search)
        run.step("final_answer", "done", duration_ms=80, input_tokens=200, output_tokens=100)
    assert current_run() is None
    assert tracker.flush()

    [row] = executions(db_url)
    assert row["id"] == run.id and row["status"].value == "success"
    assert (row["agent_name"], row["agent_type"], row["model_name"]) == (
        "researcher",
        "react",
        "gpt-4o",
    )
    # Totals come from the usages, not from the steps.
    assert (row["input_tokens"], row["output_tokens"], row["total_tokens"]) == (1600, 400, 2000)
    assert row["cost_usd"] == GPT4O_1200_300 + MINI_400_100
    # LLM steps: 1 and 4 carry tokens, 2 is named by a usage; 3 is neither.
    assert row["llm_time_ms"] == 120 + 300 + 80
    assert row["query_preview"] == ("Why? " * 40)[:100]
    assert row["user_id"] == ALICE and row["flow_id"] == "support"
    assert row["session_id"] == uuid.uuid5(SESSION_NAMESPACE, "chat-42")
    assert row["error_type"] is None and row["error_message"] is None
    assert row["execution_time_ms"] >= 20
    elapsed = (row["completed_at"] - row["started_at"]).total_seconds() * 1000
    assert abs(elapsed - row["execution_time_ms"]) <= 1

    recorded = steps(db_url, run.id)
    assert [(s["step_number"], s["step_type"].value) for s in recorded] == [
        (1, "thought"), (2, "tool_call"), (3, "observation"), (4, "final_answer"),
    ]  # fmt: skip
    assert [s["duration_ms"] for s in recorded][:2] == [120, 300]
    assert recorded[2]["duration_ms"] >= 20  # measured: the time since the previous step
    assert (recorded[0]["input_tokens"], recorded[0]["output_tokens"]) == (1000, 200)
    recorded_usages = usages(db_url, run.id)
    assert [
        (u["component"], u["model"], u["cost_usd"], u["step_number"]) for u in recorded_usages
    ] == [
        ("main_agent", "gpt-4o", GPT4O_1200_300, 1),
        ("tool_call", "gpt-4o-mini", MINI_400_100, 2),
    ]


def test_totals_from_steps_when_no_usage(db_url: str, tracker: Tracker) -> None:
    with tracker.execution(agent_name="writer", model="gpt-4o") as run:
        run.step("thought", "draft", duration_ms=5, input_tokens=1000, output_tokens=200)
        run.step("final_answer", "text", duration_ms=7, input_tokens=200, output_tokens=100)
    tracker.flush()
    [row] = executions(db_url)
    assert (row["input_tokens"], row["output_tokens"]) == (1200, 300)
    assert row["cost_usd"] == GPT4O_1200_300  # the step totals priced at the run's model
    assert row["llm_time_ms"] == 12
    assert usages(db_url, run.id) == []


def test_model_name_from_the_biggest_usage(db_url: str, tracker: Tracker) -> None:
    with tracker.execution(agent_name="router") as run:
        run.tokens("sub_agent", "gpt-4o-mini", 400, 100)
        run.tokens("main_agent", "gpt-4o", 1200, 300)
    tracker.flush()
    [row] = executions(db_url)
    assert row["model_name"] == "gpt-4o" and row["query_preview"] is None


def test_exception_records_failure_and_reraises(db_url: str, tracker: Tracker) -> None:
    with (
        pytest.raises(ConnectionError, match="tool crashed"),
        tracker.execution(agent_name="researcher") as run,
    ):
        run.step("action", "call the tool")
        raise ConnectionError("tool crashed")
    tracker.flush()
    [row] = executions(db_url)
    assert (row["status"].value, row["error_type"], row["error_message"]) == (
        "failure", "ConnectionError", "tool crashed",
    )  # fmt: skip
    assert len(steps(db_url, run.id)) == 1


def test_fail_records_failure_without_raising(db_url: str, tracker: Tracker) -> None:
    with tracker.execution(agent_name="researcher") as run:
        run.fail("RateLimited", "the model refused: rate limit")
    tracker.flush()
    [row] = executions(db_url)
    assert (row["status"].value, row["error_type"], row["error_message"]) == (
        "failure", "RateLimited", "the model refused: rate limit",
    )  # fmt: skip


def test_sync_timeout_is_recorded_after_the_block_ran_over(db_url: str, tracker: Tracker) -> None:
    with tracker.execution(agent_name="slow", timeout_s=0.05) as run:
        time.sleep(0.1)
        run.step("final_answer", "late but done")
    with tracker.execution(agent_name="quick", timeout_s=5):
        pass
    tracker.flush()
    slow, quick = executions(db_url)
    assert (slow["status"].value, slow["error_type"]) == ("timeout", "TimeoutError")
    assert "over the 0.05 s limit" in slow["error_message"]
    assert slow["execution_time_ms"] >= 100
    assert len(steps(db_url, run.id)) == 1  # the block was not interrupted
    assert quick["status"].value == "success"


async def test_async_block(db_url: str, tracker: Tracker) -> None:
    async with tracker.execution(agent_name="async-agent", query="hello", model="gpt-4o") as run:
        assert current_run() is run
        await asyncio.sleep(0.01)
        run.step("thought", "plan", input_tokens=10, output_tokens=5)
    tracker.flush()
    [row] = executions(db_url)
    assert row["status"].value == "success" and row["execution_time_ms"] >= 10
    assert (row["input_tokens"], row["output_tokens"]) == (10, 5)


async def test_async_timeout_cancels_and_raises(db_url: str, tracker: Tracker) -> None:
    finished = False
    with pytest.raises(TimeoutError):
        async with tracker.execution(agent_name="stuck", timeout_s=0.05) as run:
            run.step("action", "wait for the tool")
            await asyncio.sleep(5)
            finished = True
    assert not finished
    tracker.flush()
    [row] = executions(db_url)
    assert (row["status"].value, row["error_type"]) == ("timeout", "TimeoutError")
    assert row["error_message"] == "cancelled at the 0.05 s limit"
    assert 50 <= row["execution_time_ms"] < 1000


async def test_async_exception(db_url: str, tracker: Tracker) -> None:
    with pytest.raises(KeyError):
        async with tracker.execution(agent_name="broken", timeout_s=5):
            raise KeyError("missing")
    tracker.flush()
    [row] = executions(db_url)
    assert (row["status"].value, row["error_type"]) == ("failure", "KeyError")


def test_nested_runs_restore_the_outer_one(db_url: str, tracker: Tracker) -> None:
    with tracker.execution(agent_name="outer") as outer:
        with tracker.execution(agent_name="inner") as inner:
            assert current_run() is inner
        assert current_run() is outer
    tracker.flush()
    assert {row["agent_name"] for row in executions(db_url)} == {"outer", "inner"}


def test_bad_input_is_refused_with_the_fix(db_url: str, tracker: Tracker) -> None:
    with (
        pytest.raises(InvalidInputError, match="user_id must be a UUID"),
        tracker.execution(agent_name="a", user_id="alice"),
    ):
        pytest.fail("the block must not run")
    with pytest.raises(InvalidInputError, match="timeout_s must be a positive number"):
        tracker.execution(agent_name="a", timeout_s=0)
    with tracker.execution(agent_name="a") as run:
        with pytest.raises(InvalidInputError, match="unknown step type 'thinking'; use one of"):
            run.step("thinking", "hmm")
        with pytest.raises(InvalidInputError, match="input_tokens must be zero or more"):
            run.step("thought", "hmm", input_tokens=-1)
        with pytest.raises(InvalidInputError, match="output_tokens must be zero or more"):
            run.tokens("main_agent", "gpt-4o", 1, -5)
        for endless in (float("nan"), float("inf")):  # round() raised ValueError, OverflowError
            with pytest.raises(InvalidInputError, match=f"duration_ms must be .*, got {endless}"):
                run.step("thought", "hmm", duration_ms=endless)
    tracker.flush()
    assert counts(db_url) == (1, 0, 0)


def test_cached_and_reasoning_tokens_are_kept_and_priced(db_url: str, tracker: Tracker) -> None:
    """claude-sonnet-4 ($3 in, $15 out, $0.30 cache read, $3.75 cache write per 1M): 10,000 in
    with 6,000 read and 1,000 written, 2,000 out with 500 reasoning: 3,000 * 3 + 6,000 * 0.30 +
    1,000 * 3.75 + 2,000 * 15 = 44,550 per 1M."""
    with tracker.execution(agent_name="cache", model="claude-sonnet-4-20250514") as run:
        cost = run.tokens(
            "main_agent", "claude-sonnet-4-20250514", 10_000, 2_000,
            cache_read_tokens=6_000, cache_write_tokens=1_000, reasoning_tokens=500,
        )  # fmt: skip
        run.tokens("helper", "gpt-4o", 1000, 100)
    assert cost == Decimal("0.044550")
    tracker.flush()
    [usage, plain] = sorted(usages(db_url, run.id), key=lambda u: u["component"] != "main_agent")
    assert (usage["cache_read_tokens"], usage["cache_write_tokens"], usage["reasoning_tokens"]) == (
        6_000, 1_000, 500,
    )  # fmt: skip
    assert usage["cost_usd"] == Decimal("0.044550")
    assert (plain["cache_read_tokens"], plain["reasoning_tokens"]) == (None, None)
    [execution] = executions(db_url)
    assert execution["cost_usd"] == Decimal("0.044550") + Decimal("0.003500")
    # Each row says which price costed it: genai-prices' version, and no date for these
    # undated prices.
    package = f"genai-prices {version('genai-prices')}"
    assert [(u["price_source"], u["price_date"]) for u in (usage, plain)] == [(package, None)] * 2


def test_counts_that_leave_out_the_cache_or_reasoning_are_added_to_not_raised(
    db_url: str, tracker: Tracker
) -> None:
    """Anthropic's input_tokens leaves the cache reads out, Gemini's output its thoughts: passed
    as they come, the parts exceeded the totals and InvalidInputError came out of the block.
    claude-sonnet-4 as above: 1,000 uncached in + 6,000 read, 100 out + 400 thoughts:
    1,000 * 3 + 6,000 * 0.30 + 500 * 15 = 12,300 per 1M."""
    with (
        pytest.warns(UserWarning) as warned,
        tracker.execution(agent_name="provider-style", model="claude-sonnet-4-20250514") as run,
    ):
        cost = run.tokens(
            "main_agent", "claude-sonnet-4-20250514", 1_000, 100,
            cache_read_tokens=6_000, reasoning_tokens=400,
        )  # fmt: skip
    assert cost == Decimal("0.012300")
    messages = [str(w.message) for w in warned]
    assert any(
        m.startswith("cache_read_tokens + cache_write_tokens exceed input_tokens") for m in messages
    )
    assert any(m.startswith("reasoning_tokens exceed output_tokens") for m in messages)
    tracker.flush()
    [usage] = usages(db_url, run.id)
    assert (usage["input_tokens"], usage["output_tokens"], usage["cache_read_tokens"]) == (
        7_000, 500, 6_000,
    )  # fmt: skip
    [execution] = executions(db_url)
    assert (execution["status"].value, execution["cost_usd"]) == ("success", Decimal("0.012300"))
    # counts taken from pandas are NumPy integers: they raised past the check before
    with pytest.warns(UserWarning), tracker.execution(agent_name="numpy") as counted:
        numpy_cost = counted.tokens(
            "main_agent", "claude-sonnet-4-20250514", np.int64(1_000), np.int64(100),
            cache_read_tokens=np.int64(6_000), reasoning_tokens=np.int64(400),
        )  # fmt: skip
    assert numpy_cost == Decimal("0.012300")


def test_a_dated_price_file_prices_by_the_runs_start(
    db_url: str, tracker: Tracker, tmp_path: Path
) -> None:
    """'house-model' costs $1/$2 per 1M from 2020-01-01 and $10/$20 from 2999-01-01: a run now
    pays the 2020 price, 1,000 in and 500 out = 0.001 + 0.001, and the row names it."""
    prices = tmp_path / "house.toml"
    prices.write_text(
        '[models."house-model".prices."2020-01-01"]\ninput_per_million = 1\n'
        'output_per_million = 2\n[models."house-model".prices."2999-01-01"]\n'
        "input_per_million = 10\noutput_per_million = 20\n"
    )
    set_price_file(prices)
    try:
        with tracker.execution(agent_name="house", model="house-model") as run:
            cost = run.tokens("main_agent", "house-model", 1000, 500)
        tracker.flush()
    finally:
        set_price_file(None)
    assert cost == Decimal("0.002000")
    [usage] = usages(db_url, run.id)
    assert (usage["price_source"], usage["price_date"]) == ("price file house.toml", "2020-01-01")


def test_a_price_file_with_a_long_name_still_records_its_runs(
    db_url: str, tracker: Tracker, tmp_path: Path
) -> None:
    """price_source holds 64 characters and PostgreSQL enforces it: a 70-character file name
    had every priced run refused. The name is shortened in its middle, the run stored."""
    name = "negotiated-prices-for-2026-with-openai-anthropic-and-google-final.toml"
    prices = tmp_path / name
    prices.write_text('[models."house-model"]\ninput_per_million = 1\noutput_per_million = 2\n')
    set_price_file(prices)
    try:
        with tracker.execution(agent_name="house", model="house-model") as run:
            run.tokens("main_agent", "house-model", 1000, 500)
        tracker.flush()
    finally:
        set_price_file(None)
    assert tracker.writer.refused == 0
    [usage] = usages(db_url, run.id)
    # 53 characters after "price file ": the first 26 of the name, "…", the last 26
    assert usage["price_source"] == f"price file {name[:26]}…{name[-26:]}"
    assert len(usage["price_source"]) == 64
    assert (usage["cost_usd"], executions(db_url)[0]["cost_usd"]) == (
        Decimal("0.002000"),
        Decimal("0.002000"),
    )
