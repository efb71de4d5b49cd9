"""The mapping of one trace's spans, on hand-made traces whose rows are worked out by hand.

Prices (genai-prices' bundled data): gpt-4o-mini $0.15 / $0.60 per million input / output
tokens and $0.075 for cache reads, gpt-4o $2.50 / $10.00.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from importlib.metadata import version

from aa_notebooks.otel.mapping import Filing, execution_id, is_whole, map_trace
from aa_notebooks.pricing import set_price_file
from aa_notebooks.tracking.ids import SESSION_NAMESPACE
from tests.otel.builders import TRACE, at, exception, genai_run, span

USER = uuid.UUID("11111111-2222-4333-8444-555555555555")


def _steps(record) -> list[tuple]:
    return [
        (s["step_number"], s["step_type"], s["content"], s["input_tokens"], s["output_tokens"],
         s["duration_ms"], s["timestamp"], s["parent_step"], s["depth"])
        for s in record.traces
    ]  # fmt: skip


def test_a_genai_agent_run_is_one_execution_with_its_steps_and_usage() -> None:
    mapped = map_trace(genai_run())
    assert (len(mapped.records), mapped.used, mapped.ignored) == (1, 4, 1)
    [record] = mapped.records
    row = record.execution
    assert row["id"] == uuid.uuid5(
        uuid.UUID("5d2c1a4e-8f63-4b7a-9c1e-0a7f3e9b6d21"), f"{TRACE}/a000000000000001"
    )
    assert row["request_id"] == uuid.UUID(TRACE)
    assert row["session_id"] == uuid.uuid5(SESSION_NAMESPACE, "chat-42")
    assert (row["agent_name"], row["agent_type"], row["model_name"]) == (
        "Weather", "test.instrumentation", "gpt-4o",
    )  # fmt: skip
    assert (row["status"], row["error_type"], row["error_message"]) == ("success", None, None)
    assert (row["input_tokens"], row["output_tokens"], row["total_tokens"]) == (2500, 300, 2800)
    assert row["cost_usd"] == Decimal("0.004990")  # 0.000240 + 0.004750
    assert (row["execution_time_ms"], row["llm_time_ms"]) == (1000, 500)
    assert (row["started_at"], row["completed_at"]) == (at(0), at(1000))
    assert row["query_preview"] == "Weather in Paris?"
    assert row["user_id"] is None
    assert _steps(record) == [
        (1, "thought", 'get_weather({"city":"Paris"})', 1000, 200, 200, at(10), None, 0),
        (2, "tool_call", 'get_weather({"city": "Paris"})', 0, 0, 100, at(220), None, 0),
        (3, "observation", "sunny", 0, 0, 0, at(320), None, 0),
        (4, "final_answer", "Sunny in Paris.", 1500, 100, 300, at(330), None, 0),
    ]
    assert [
        (u["component"], u["model"], u["input_tokens"], u["output_tokens"], u["cost_usd"],
         u["step_number"], u["cache_read_tokens"], u["cache_write_tokens"])
        for u in record.usages
    ] == [
        # 500 uncached * 0.15 + 400 cache reads * 0.075 + 100 cache writes * 0.15 (no write
        # rate: the input rate) + 200 * 0.60 = 240 per million
        ("Weather", "gpt-4o-mini-2024-07-18", 1000, 200, Decimal("0.000240"), 1, 400, 100),
        ("Weather", "gpt-4o", 1500, 100, Decimal("0.004750"), 4, None, None),
    ]  # fmt: skip
    package = f"genai-prices {version('genai-prices')}"  # undated prices: no effective date
    assert [(u["price_source"], u["price_date"]) for u in record.usages] == [(package, None)] * 2


def test_the_same_spans_in_any_order_map_to_the_same_rows() -> None:
    first = map_trace(genai_run()).records
    again = map_trace(list(reversed(genai_run()))).records
    assert first == again


def test_a_user_token_files_the_run_under_its_user_whatever_the_spans_say() -> None:
    other = str(uuid.uuid4())
    [record] = map_trace(genai_run(user=other), Filing(USER)).records
    assert record.execution["user_id"] == USER
    [kept] = map_trace(genai_run(user=other)).records
    assert kept.execution["user_id"] == uuid.UUID(other)
    [not_uuid] = map_trace(genai_run(user="alice@example.com")).records
    assert not_uuid.execution["user_id"] is None


def test_an_openinference_run_with_a_nested_agent_nests_its_steps() -> None:
    spans = [
        span("b000000000000001", None, "Planner", 0, 900, kind="AGENT",
             openinference__span__kind="AGENT", input__value="Plan my trip"),
        span("b000000000000002", "b000000000000001", "ChatCompletion", 10, 110,
             openinference__span__kind="LLM", llm__model_name="gpt-4o-mini",
             llm__token_count__prompt=100, llm__token_count__completion=20,
             llm__token_count__prompt_details__cache_read=50,
             llm__output_messages__0__message__role="assistant",
             llm__output_messages__0__message__content="Asking the booker."),
        span("b000000000000003", "b000000000000001", "Booker", 120, 600,
             openinference__span__kind="AGENT"),
        span("b000000000000004", "b000000000000003", "ChatCompletion", 130, 330,
             openinference__span__kind="LLM", llm__model_name="gpt-4o",
             llm__token_count__prompt=1000, llm__token_count__completion=100,
             output__value="Booked."),
        span("b000000000000005", "b000000000000003", "book", 340, 400,
             openinference__span__kind="TOOL", tool__name="book",
             input__value='{"to": "Rome"}'),
        span("b000000000000006", "b000000000000001", "chain", 610, 620,
             openinference__span__kind="CHAIN"),
    ]  # fmt: skip
    mapped = map_trace(spans)
    assert (len(mapped.records), mapped.used, mapped.ignored) == (1, 5, 1)
    [record] = mapped.records
    row = record.execution
    assert (row["agent_name"], row["model_name"], row["query_preview"]) == (
        "Planner", "gpt-4o", "Plan my trip",
    )  # fmt: skip
    # gpt-4o-mini: 50 uncached * 0.15 + 50 cache reads * 0.075 + 20 * 0.60 = 23.25 per 1M
    assert row["cost_usd"] == Decimal("0.003523")  # 0.000023 + 0.003500
    assert (row["input_tokens"], row["output_tokens"], row["llm_time_ms"]) == (1100, 120, 300)
    assert _steps(record) == [
        (1, "thought", "Asking the booker.", 100, 20, 100, at(10), None, 0),
        (2, "action", "agent Booker", 0, 0, 480, at(120), None, 0),
        (3, "final_answer", "Booked.", 1000, 100, 200, at(130), 2, 1),
        (4, "tool_call", 'book({"to": "Rome"})', 0, 0, 60, at(340), 2, 1),
    ]
    assert [(u["component"], u["model"], u["step_number"], u["cache_read_tokens"])
            for u in record.usages] == [
        ("Planner", "gpt-4o-mini", 1, 50), ("Booker", "gpt-4o", 3, None),
    ]  # fmt: skip


def test_cache_counts_past_the_input_are_not_kept_and_the_call_is_priced_as_plain_input() -> None:
    """500 prompt tokens with 900 of them read from the cache cannot be: both conventions count
    cached tokens in the prompt. The 900 were stored, so `cache` showed a 180% hit share and a
    saving never made, while the cost was plain input's: 500 x 0.15 + 10 x 0.60 = 81 per 1M."""
    spans = [
        span("d000000000000001", None, "Agent", 0, 300, openinference__span__kind="AGENT"),
        span("d000000000000002", "d000000000000001", "ChatCompletion", 10, 110,
             openinference__span__kind="LLM", llm__model_name="gpt-4o-mini",
             llm__token_count__prompt=500, llm__token_count__completion=10,
             llm__token_count__prompt_details__cache_read=900),
    ]  # fmt: skip
    [usage] = map_trace(spans).records[0].usages
    assert (usage["input_tokens"], usage["cache_read_tokens"], usage["cache_write_tokens"]) == (
        500, None, None,
    )  # fmt: skip
    assert usage["cost_usd"] == Decimal("0.000081")


def test_a_failed_agent_span_is_a_failure_with_its_exception_and_a_timeout_is_a_timeout() -> None:
    failing = [
        span("c000000000000001", None, "invoke_agent Weather", 0, 500, error=True,
             status_message="ValueError: no city", events=[exception("ValueError", "no city", 400)],
             gen_ai__operation__name="invoke_agent"),
        span("c000000000000002", "c000000000000001", "chat gpt-4o", 10, 110,
             gen_ai__operation__name="chat", gen_ai__request__model="gpt-4o",
             gen_ai__usage__input_tokens=10, gen_ai__usage__output_tokens=10),
    ]  # fmt: skip
    [record] = map_trace(failing).records
    row = record.execution
    assert (row["status"], row["error_type"], row["error_message"]) == (
        "failure", "ValueError", "no city",
    )  # fmt: skip
    assert [s["step_type"] for s in record.traces] == ["thought"]  # no final answer in a failure
    failing[0] = span("c000000000000001", None, "invoke_agent Weather", 0, 500, error=True,
                      status_message="Request timed out.", gen_ai__operation__name="invoke_agent",
                      error__type="openai.APITimeoutError")  # fmt: skip
    [timed_out] = map_trace(failing).records
    assert (timed_out.execution["status"], timed_out.execution["error_type"]) == (
        "timeout", "openai.APITimeoutError",
    )  # fmt: skip


def test_model_time_past_the_runs_own_span_is_not_counted() -> None:
    """Calls stamped by a host whose clock is 3 s off (1,500-4,500 ms of a 0-2,000 ms run) made
    llm_time_ms 5,000 of a 2,000 ms execution: more time waiting for models than the run took."""
    spans = [
        span("c100000000000001", None, "invoke_agent A", 0, 2000,
             gen_ai__operation__name="invoke_agent"),
        span("c100000000000002", "c100000000000001", "chat", -1000, 500,
             gen_ai__operation__name="chat", gen_ai__request__model="gpt-4o"),
        span("c100000000000003", "c100000000000001", "chat", 1500, 4500,
             gen_ai__operation__name="chat", gen_ai__request__model="gpt-4o"),
    ]  # fmt: skip
    row = map_trace(spans).records[0].execution
    assert (row["execution_time_ms"], row["llm_time_ms"]) == (2000, 1000)  # 0-500, 1500-2000


def test_llm_calls_without_an_agent_are_one_execution_rooted_at_the_trace_root() -> None:
    spans = [
        span("d000000000000001", None, "handle_question", 0, 400),
        span("d000000000000002", "d000000000000001", "chat gpt-4o-mini", 0, 100,
             gen_ai__operation__name="chat", gen_ai__request__model="gpt-4o-mini",
             gen_ai__usage__input_tokens=1000, gen_ai__usage__output_tokens=200),
        span("d000000000000003", "d000000000000001", "chat gpt-4o-mini", 200, 300,
             gen_ai__operation__name="chat", gen_ai__request__model="gpt-4o-mini"),
    ]  # fmt: skip
    mapped = map_trace(spans)
    assert (mapped.used, mapped.ignored) == (3, 0)
    [record] = mapped.records
    row = record.execution
    assert row["id"] == execution_id(TRACE, "d000000000000001")
    assert (row["agent_name"], row["execution_time_ms"], row["llm_time_ms"]) == (
        "handle_question", 400, 200,
    )  # fmt: skip
    # The second call reported no tokens: it is a usage row of 0 tokens, the sums are known ones.
    assert (row["input_tokens"], row["output_tokens"], row["cost_usd"]) == (
        1000, 200, Decimal("0.000270"),
    )  # fmt: skip
    assert [s["step_type"] for s in record.traces] == ["thought", "final_answer"]


def test_a_partial_trace_is_anchored_at_its_missing_parent() -> None:
    run = genai_run()
    children = run[1:]
    assert not is_whole(children) and is_whole(run)
    [partial] = map_trace(children).records
    [whole] = map_trace(run).records
    assert partial.id == whole.id
    assert partial.execution["agent_name"] is None
    assert (partial.execution["started_at"], partial.execution["completed_at"]) == (at(10), at(630))


def test_spans_of_no_agent_or_llm_call_make_nothing() -> None:
    mapped = map_trace([span("e000000000000001", None, "GET /health", 0, 5)])
    assert (mapped.records, mapped.used, mapped.ignored) == ([], 0, 1)


def test_text_is_cut_and_rid_of_nul_characters() -> None:
    spans = [
        span("f000000000000001", None, "invoke_agent A\x00B", 0, 100,
             gen_ai__operation__name="invoke_agent"),
        span("f000000000000002", "f000000000000001", "chat", 0, 50,
             gen_ai__operation__name="chat", output__value="x" * 5000),
    ]  # fmt: skip
    [record] = map_trace(spans).records
    assert record.execution["agent_name"] == "AB"
    assert record.traces[0]["content"] == "x" * 2000


def test_a_frameworks_wrapper_agent_takes_the_name_of_the_agent_inside_it() -> None:
    """The OpenAI Agents SDK's "Agent workflow" AGENT span names no agent; "Weather" does."""
    spans = [
        span("c000000000000001", None, "Agent workflow", 0, 500, openinference__span__kind="AGENT"),
        span("c000000000000002", "c000000000000001", "Weather", 5, 495,
             openinference__span__kind="AGENT", agent__name="Weather"),
        span("c000000000000003", "c000000000000002", "generation", 10, 110,
             openinference__span__kind="LLM", llm__model_name="gpt-4o-mini",
             llm__token_count__prompt=1000, llm__token_count__completion=200),
    ]  # fmt: skip
    [record] = map_trace(spans).records
    assert record.id == execution_id(TRACE, "c000000000000001")
    assert record.execution["agent_name"] == "Weather"
    assert [(s["step_type"], s["depth"]) for s in record.traces] == [
        ("action", 0), ("final_answer", 1),
    ]  # fmt: skip


def test_an_agent_node_recurring_under_one_graph_is_one_run_named_after_the_graph() -> None:
    """LangGraph: the graph "Weather" (CHAIN) runs its `agent` node (AGENT) once per turn."""
    spans = [
        span("d000000000000001", None, "Weather", 0, 900, openinference__span__kind="CHAIN"),
        span("d000000000000002", "d000000000000001", "agent", 10, 200,
             openinference__span__kind="AGENT"),
        span("d000000000000003", "d000000000000002", "ChatOpenAI", 20, 190,
             openinference__span__kind="LLM", llm__model_name="gpt-4o-mini",
             llm__token_count__prompt=1000, llm__token_count__completion=200),
        span("d000000000000004", "d000000000000001", "get_weather", 210, 300,
             openinference__span__kind="TOOL", tool__name="get_weather", input__value="Paris",
             output__value="sunny"),
        span("d000000000000005", "d000000000000001", "agent", 310, 890,
             openinference__span__kind="AGENT"),
        span("d000000000000006", "d000000000000005", "ChatOpenAI", 320, 880,
             openinference__span__kind="LLM", llm__model_name="gpt-4o-mini",
             llm__token_count__prompt=1500, llm__token_count__completion=100),
    ]  # fmt: skip
    [record] = map_trace(spans).records
    assert record.id == execution_id(TRACE, "d000000000000001")
    row = record.execution
    assert (row["agent_name"], row["execution_time_ms"], row["llm_time_ms"]) == (
        "Weather",
        900,
        730,
    )
    assert row["cost_usd"] == Decimal("0.000555")  # 0.000270 + 0.000285
    assert [(s["step_type"], s["content"], s["depth"]) for s in record.traces] == [
        ("action", "agent agent", 0), ("thought", "ChatOpenAI", 1),
        ("tool_call", "get_weather(Paris)", 0), ("observation", "sunny", 0),
        ("action", "agent agent", 0), ("final_answer", "ChatOpenAI", 1),
    ]  # fmt: skip


def test_a_langgraph_run_of_one_turn_is_named_after_the_graph_too() -> None:
    """A LangGraph agent that answered at once was stored as "agent" (its node), the same
    graph's runs with a tool call as "Weather": one agent, two names in every breakdown."""
    node = '{"ls_integration": "langgraph", "langgraph_step": 1, "langgraph_node": "agent"}'
    spans = [
        span("d100000000000001", None, "Weather", 0, 300, openinference__span__kind="CHAIN",
             metadata='{"ls_integration": "langgraph"}'),
        span("d100000000000002", "d100000000000001", "agent", 10, 290,
             openinference__span__kind="AGENT", metadata=node),
        span("d100000000000003", "d100000000000002", "ChatOpenAI", 20, 280,
             openinference__span__kind="LLM", llm__model_name="gpt-4o-mini",
             llm__token_count__prompt=1000, llm__token_count__completion=200),
    ]  # fmt: skip
    [record] = map_trace(spans).records
    assert record.id == execution_id(TRACE, "d100000000000001")
    assert (record.execution["agent_name"], record.execution["execution_time_ms"]) == (
        "Weather", 300,
    )  # fmt: skip
    assert [(s["step_type"], s["content"], s["depth"]) for s in record.traces] == [
        ("action", "agent agent", 0), ("final_answer", "ChatOpenAI", 1),
    ]  # fmt: skip


def test_reasoning_tokens_are_read_under_both_names_of_the_conventions() -> None:
    """gen_ai.usage.reasoning.output_tokens (the conventions' name now) was not read at all."""
    spans = [
        span("d200000000000001", None, "invoke_agent A", 0, 300,
             gen_ai__operation__name="invoke_agent", gen_ai__agent__name="A"),
        span("d200000000000002", "d200000000000001", "chat", 10, 100,
             gen_ai__operation__name="chat", gen_ai__request__model="gpt-4o-mini",
             gen_ai__usage__input_tokens=100, gen_ai__usage__output_tokens=80,
             gen_ai__usage__reasoning__output_tokens=50),
        span("d200000000000003", "d200000000000001", "chat", 110, 200,
             gen_ai__operation__name="chat", gen_ai__request__model="gpt-4o-mini",
             gen_ai__usage__input_tokens=100, gen_ai__usage__output_tokens=80,
             gen_ai__usage__reasoning_tokens=30),
    ]  # fmt: skip
    [record] = map_trace(spans).records
    assert [usage["reasoning_tokens"] for usage in record.usages] == [50, 30]


def test_half_an_emoji_in_a_session_id_is_a_session_not_an_error() -> None:
    """A lone surrogate in session.id failed the request with a 500 (its UUIDv5 encoded the
    text), and with it every trace after this one in the batch."""
    spans = [
        span("d300000000000001", None, "invoke_agent A", 0, 100,
             gen_ai__operation__name="invoke_agent", session__id="s\udc80"),
    ]  # fmt: skip
    [record] = map_trace(spans).records
    other = map_trace([span("d300000000000001", None, "invoke_agent A", 0, 100,
                            gen_ai__operation__name="invoke_agent", session__id="s")])  # fmt: skip
    assert record.execution["session_id"] != other.records[0].execution["session_id"]


def test_an_agent_span_alone_from_an_unnamed_tracer_is_a_run_of_no_type() -> None:
    """An agent that failed before calling a model, from an exporter whose tracer has no name:
    it raised IndexError, and the request's other traces were lost with it."""
    alone = span(
        "f100000000000001",
        None,
        "invoke_agent Early",
        0,
        30,
        error=True,
        status_message="boom",
        scope="",
        gen_ai__operation__name="invoke_agent",
    )
    [record] = map_trace([alone]).records
    row = record.execution
    assert (row["agent_name"], row["agent_type"], row["status"]) == ("Early", "", "failure")
    assert len(record.traces) == 0


def test_half_an_emoji_is_replaced_and_a_whole_one_kept() -> None:
    """A lone surrogate (an exporter cut a string inside an emoji) cannot be encoded as UTF-8:
    it becomes U+FFFD instead of losing the whole run."""
    spans = [
        span("f200000000000001", None, "invoke_agent A", 0, 100,
             gen_ai__operation__name="invoke_agent", input__value="hi \ud83d"),
        span("f200000000000002", "f200000000000001", "chat", 0, 50,
             gen_ai__operation__name="chat", output__value="ok \ud83d\ude00 and \ude00"),
    ]  # fmt: skip
    [record] = map_trace(spans).records
    contents = [step["content"] for step in record.traces]
    assert all(text.encode("utf-8") for text in contents)
    assert any("ok \U0001f600 and \ufffd" in text for text in contents), contents


def test_one_call_seen_by_two_instrumentations_is_counted_once() -> None:
    """LangChain's ChatOpenAI span around the OpenAI client's, both reporting the call's 1000 /
    100 tokens: gpt-4o, 1000 * 2.50 + 100 * 10.00 per 1M = $0.0035, not twice that."""
    spans = [
        span("c100000000000001", None, "Agent", 0, 900, openinference__span__kind="AGENT"),
        span("c100000000000002", "c100000000000001", "ChatOpenAI", 100, 600,
             openinference__span__kind="LLM", llm__model_name="gpt-4o",
             llm__token_count__prompt=1000, llm__token_count__completion=100),
        span("c100000000000003", "c100000000000002", "openai.chat", 150, 550,
             openinference__span__kind="LLM", llm__model_name="gpt-4o-2024-08-06",
             llm__token_count__prompt=1000, llm__token_count__completion=100),
    ]  # fmt: skip
    [record] = map_trace(spans).records
    row = record.execution
    assert (row["input_tokens"], row["output_tokens"], row["cost_usd"]) == (
        1000, 100, Decimal("0.003500"),
    )  # fmt: skip
    assert [u["model"] for u in record.usages] == ["gpt-4o-2024-08-06"]
    assert row["llm_time_ms"] == 500  # the union of the two spans' times


def test_calls_are_priced_at_their_executions_start_as_reprice_prices_them(tmp_path) -> None:
    """A run that starts at 23:59 the day before a price change, and calls the model at 00:01:
    the call costs the old price, as the tracker and `reprice` (at the execution's start) have
    it, not the new one its span started under."""
    path = tmp_path / "house.toml"
    path.write_text(
        '[models."house-model"]\ninput_per_million = 1.00\noutput_per_million = 2.00\n\n'
        '[models."house-model".prices."2026-11-03"]\n'
        "input_per_million = 10.00\noutput_per_million = 20.00\n"
    )
    before_midnight = (13 * 60 + 59) * 60_000  # T0 is 10:00 on the 2nd: 23:59
    after_midnight = before_midnight + 2 * 60_000
    spans = [
        span("b000000000000001", None, "invoke_agent House", before_midnight,
             after_midnight + 5_000, gen_ai__operation__name="invoke_agent",
             gen_ai__agent__name="House"),
        span("b000000000000002", "b000000000000001", "chat house-model", after_midnight,
             after_midnight + 1_000, gen_ai__operation__name="chat",
             gen_ai__request__model="house-model", gen_ai__usage__input_tokens=1000,
             gen_ai__usage__output_tokens=500),
    ]  # fmt: skip
    set_price_file(path)
    try:
        [record] = map_trace(spans).records
    finally:
        set_price_file(None)
    [usage] = record.usages
    # 1,000 * $1 + 500 * $2 per million (the undated price, in force on the 2nd)
    assert (usage["cost_usd"], usage["price_date"]) == (Decimal("0.002000"), None)
    assert usage["price_source"] == "price file house.toml"
    assert record.execution["cost_usd"] == Decimal("0.002000")
