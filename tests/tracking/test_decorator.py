"""`@track_agent` records each call of sync and async functions, fills fields from the
function's arguments, and uses the default tracker when none is given."""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from aa_notebooks.errors import InvalidInputError
from aa_notebooks.tracking import Tracker, configure, current_run, defaults, track_agent
from tests.tracking.conftest import executions, steps

ALICE = uuid.UUID("a11ce000-0000-4000-8000-000000000001")


def test_sync_function(db_url: str, tracker: Tracker) -> None:
    @track_agent("answerer", agent_type="react", model="gpt-4o", flow_id="support", tracker=tracker)
    def answer(query: str, user_id: uuid.UUID | None = None) -> str:
        run = current_run()
        assert run is not None
        run.step("thought", f"about {query}", input_tokens=10, output_tokens=5)
        return query.upper()

    assert answer("refund policy?", user_id=ALICE) == "REFUND POLICY?"
    assert answer("second") == "SECOND"
    tracker.flush()
    first, second = executions(db_url)
    assert (first["agent_name"], first["agent_type"], first["flow_id"]) == (
        "answerer",
        "react",
        "support",
    )
    assert (first["query_preview"], first["user_id"]) == ("refund policy?", ALICE)
    assert (second["query_preview"], second["user_id"]) == ("second", None)
    assert [s["content"] for s in steps(db_url, first["id"])] == ["about refund policy?"]


async def test_async_function_keeps_its_nature(db_url: str, tracker: Tracker) -> None:
    @track_agent(tracker=tracker)
    async def plan(task: str) -> list[str]:
        await asyncio.sleep(0)
        return [task]

    assert inspect.iscoroutinefunction(plan) and plan.__name__ == "plan"
    assert await plan("x") == ["x"]
    tracker.flush()
    [row] = executions(db_url)
    # The agent name defaults to the function's qualified name.
    assert row["agent_name"].endswith("plan") and row["status"].value == "success"


async def test_async_timeout(db_url: str, tracker: Tracker) -> None:
    @track_agent("sleeper", timeout_s=0.05, tracker=tracker)
    async def sleeper() -> None:
        await asyncio.sleep(5)

    with pytest.raises(TimeoutError):
        await sleeper()
    tracker.flush()
    [row] = executions(db_url)
    assert row["status"].value == "timeout"


def test_exception_is_recorded_and_reraised(db_url: str, tracker: Tracker) -> None:
    @track_agent("fragile", tracker=tracker)
    def fragile(query: str) -> None:
        raise RuntimeError(f"cannot answer {query}")

    with pytest.raises(RuntimeError):
        fragile(query="this")
    tracker.flush()
    [row] = executions(db_url)
    assert (row["status"].value, row["error_type"], row["error_message"]) == (
        "failure", "RuntimeError", "cannot answer this",
    )  # fmt: skip


@pytest.fixture
def default_tracker(db_url: str, spool_dir: Path) -> Iterator[None]:
    """The process's default tracker pointed at the test database, reset afterwards."""
    yield
    current = defaults._default
    defaults._default = None
    if current is not None:
        current.close()


def test_default_tracker_is_looked_up_at_call_time(
    db_url: str, spool_dir: Path, default_tracker: None
) -> None:
    @track_agent("late-configured")
    def agent() -> int:
        return 42

    tracker = configure(db_url, spool_dir=spool_dir)
    assert agent() == 42
    tracker.flush()
    assert [row["agent_name"] for row in executions(db_url)] == ["late-configured"]


def test_default_tracker_from_the_environment(
    db_url: str, spool_dir: Path, default_tracker: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AA_DATABASE_URL", db_url)
    assert str(defaults.get_tracker().url.database) in db_url
    track_agent("from-env")(lambda: None)()
    assert defaults.flush()
    assert [row["agent_name"] for row in executions(db_url)] == ["from-env"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'[models."gpt-4o"\ninput_per_million = 1.5\n', "invalid TOML"),  # no closing bracket
        ('[models."gpt-4o"]\n'.encode("utf-16"), "not UTF-8 text"),  # PowerShell's `>`
    ],
    ids=["typo", "utf-16"],
)
def test_a_price_file_with_a_typo_costs_the_agent_nothing(
    db_url: str,
    tracker: Tracker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    content: bytes,
    problem: str,
) -> None:
    """The agent's answer comes back and the run is recorded unpriced, with one warning naming
    the file; before, PricingError came out of the decorator after the agent's work was done,
    and a UTF-16 file's UnicodeDecodeError came out of it with the run not recorded at all."""
    from aa_notebooks.pricing import reset_pricing_cache

    broken = tmp_path / "prices.toml"
    broken.write_bytes(content)
    monkeypatch.setenv("AA_PRICING_FILE", str(broken))
    reset_pricing_cache()

    @track_agent("answerer", model="gpt-4o", tracker=tracker)
    def answer() -> str:
        current_run().step("thought", "looked it up", input_tokens=1000, output_tokens=10)
        current_run().tokens("main_agent", "gpt-4o", 1000, 10)
        return "42"

    with pytest.warns(UserWarning, match=rf"pricing file {broken}: {problem}") as said:
        assert answer() == "42"
        assert answer() == "42"
    assert len([w for w in said if problem in str(w.message)]) == 1
    tracker.flush()
    assert [(e["status"], e["cost_usd"], e["input_tokens"]) for e in executions(db_url)] == [
        ("success", 0, 1000), ("success", 0, 1000)
    ]  # fmt: skip
    monkeypatch.delenv("AA_PRICING_FILE")
    reset_pricing_cache()


STREAMED = [
    ("a b c", "success", None, 3), ("d e", "failure", "RuntimeError", 2),
    ("f g h", "success", None, 1),
]  # fmt: skip
"""The three streams of the tests below: read whole, failing after two words, left after one."""


def _streamed(url: str) -> list[dict]:
    """The recorded runs, checked against STREAMED."""
    rows = executions(url)
    summary = [(r["query_preview"], r["status"].value, r["error_type"], r["input_tokens"])
               for r in rows]  # fmt: skip
    assert summary == STREAMED
    return rows


def test_a_streaming_agent_is_recorded_over_its_whole_stream(db_url: str, tracker: Tracker) -> None:
    """A generator's run spans its iteration: its steps count, an error while streaming is a
    failure, and a consumer that stops early ends the run as a success. Before, the run was
    recorded, a success of 0 ms, when the generator object was made."""

    @track_agent("streamer", tracker=tracker)
    def stream(query: str, fail: bool = False) -> Iterator[str]:
        for word in query.split():
            current_run().step("observation", word, input_tokens=1, output_tokens=1)
            yield word
        if fail:
            raise RuntimeError("the model hung up")

    assert inspect.isgeneratorfunction(stream)
    assert list(stream("a b c")) == ["a", "b", "c"]
    with pytest.raises(RuntimeError):
        list(stream("d e", fail=True))
    early = stream("f g h")
    assert next(early) == "f"
    early.close()
    tracker.flush()
    rows = _streamed(db_url)
    assert [s["content"] for s in steps(db_url, rows[1]["id"])] == ["d", "e"]


async def test_an_async_streaming_agent_is_recorded_over_its_whole_stream(
    db_url: str, tracker: Tracker
) -> None:
    @track_agent("streamer", tracker=tracker)
    async def stream(query: str, fail: bool = False) -> AsyncIterator[str]:
        for word in query.split():
            await asyncio.sleep(0.02)
            current_run().step("observation", word, input_tokens=1, output_tokens=1)
            yield word
        if fail:
            raise RuntimeError("the model hung up")

    assert inspect.isasyncgenfunction(stream)
    assert [word async for word in stream("a b c")] == ["a", "b", "c"]
    with pytest.raises(RuntimeError):
        [word async for word in stream("d e", fail=True)]
    early = stream("f g h")
    assert await anext(early) == "f"
    await early.aclose()
    tracker.flush()
    rows = _streamed(db_url)
    assert rows[0]["execution_time_ms"] >= 60  # three sleeps of 20 ms: the stream, not its call


def test_a_stream_read_by_another_agent_keeps_each_run_s_steps_apart(
    db_url: str, tracker: Tracker
) -> None:
    """A generator runs in its consumer's context: the stream's run is current only while the
    stream's own code runs, so the reading agent's steps stay its own, and nothing is left
    current once two streams read side by side are done."""

    @track_agent("inner", tracker=tracker)
    def inner(query: str) -> Iterator[str]:
        for word in query.split():
            current_run().step("observation", f"inner made {word}")
            yield word

    @track_agent("outer", tracker=tracker)
    def outer() -> None:
        for word in inner("a b"):
            current_run().step("thought", f"outer saw {word}")

    outer()
    assert list(zip(inner("x"), inner("y z"), strict=False)) == [("x", "y")]
    assert current_run() is None
    tracker.flush()
    contents = {row["agent_name"]: [s["content"] for s in steps(db_url, row["id"])]
                for row in executions(db_url)[:2]}  # fmt: skip
    assert contents == {"outer": ["outer saw a", "outer saw b"],
                        "inner": ["inner made a", "inner made b"]}  # fmt: skip


async def test_an_async_stream_left_with_break_is_recorded_when_asyncio_closes_it(
    db_url: str, tracker: Tracker
) -> None:
    @track_agent("streamer", tracker=tracker)
    async def stream(query: str) -> AsyncIterator[str]:
        for word in query.split():
            await asyncio.sleep(0)
            yield word

    async for word in stream("p q r"):
        if word == "p":
            break  # no aclose(): asyncio closes the generator later, in another task
    for _ in range(20):
        await asyncio.sleep(0.01)
        if tracker.flush() and executions(db_url):
            break
    assert [(row["agent_name"], row["status"].value) for row in executions(db_url)] == [
        ("streamer", "success")
    ]


def test_a_timeout_on_a_streaming_agent_is_refused_when_decorated() -> None:
    with pytest.raises(InvalidInputError, match="timeout_s does not apply to a streaming agent"):

        @track_agent("streamer", timeout_s=1)
        def stream() -> Iterator[str]:
            yield "x"
