"""Real instrumentations, exporting through the OTel SDK's OTLP/HTTP exporter to a running
`aa-notebooks serve`, calling the test's OpenAI-compatible server: the runs they trace become
executions with the known tokens, cost, steps and model (SQLite and PostgreSQL).

Each agent runs in its own process (instrumentors patch their libraries for good), configured
only by the standard OTEL_EXPORTER_OTLP_TRACES_* variables.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text

from aa_notebooks.analytics import connect
from aa_notebooks.db.engine import dispose_engine, get_engine
from aa_notebooks.db.setup import init_db
from tests.otel.llm_server import ANSWER, free_port, llm_server

TOKEN = "otel-test-admin-token-0123456789abcdef"
ROOT = Path(__file__).resolve().parents[2]
# gpt-4o-mini: $0.15 per million input tokens, $0.60 per million output tokens
COST = Decimal("0.00027") + Decimal("0.000285")  # (1000, 200) then (1500, 100)


@dataclass(frozen=True)
class Served:
    """A running `aa-notebooks serve` and the LLM server the agents call."""

    traces_url: str
    llm_url: str
    db_url: str


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise AssertionError(f"aa-notebooks serve exited: {process.stderr.read()!r}")  # type: ignore[union-attr]
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError("aa-notebooks serve did not start listening")


@pytest.fixture
def served(db_url: str) -> Iterator[Served]:
    init_db(db_url)
    port = free_port()
    env = {**os.environ, "AA_API_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", "from aa_notebooks.cli import main; main()"]
    process = subprocess.Popen(
        [*command, "serve", "--db", db_url, "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        _wait_for_port(port, process)
        with llm_server() as llm_url:
            yield Served(f"http://127.0.0.1:{port}/v1/traces", llm_url, db_url)
    finally:
        process.terminate()
        process.wait(30)


def run_agent(served: Served, script: str) -> None:
    """Run an instrumented agent script to its end (its provider's shutdown exports all)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "LLM_BASE_URL": served.llm_url,
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": served.traces_url,
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS": f"Authorization=Bearer%20{TOKEN}",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY",
        "OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
    }
    done = subprocess.run(
        [sys.executable, "-m", f"tests.otel.instrumented.{script}"],
        env=env, capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ANSWER


def written(db_url: str, executions: int) -> None:
    """Wait until the server's writer has committed `executions` executions."""
    engine = get_engine(db_url)
    for _ in range(300):
        with engine.connect() as connection:
            count = connection.execute(text("SELECT COUNT(*) FROM agentexecutions")).scalar_one()
        if count >= executions:
            return
        time.sleep(0.1)
    raise AssertionError(f"{count} executions written, expected {executions}")


def the_run(db_url: str) -> tuple[dict, list[tuple], list[tuple]]:
    """The one execution, its steps (type, depth, content) and usages (model, in, out, cost)."""
    dispose_engine(db_url)
    analytics = connect(db_url)
    [execution_id] = list(analytics.executions().rows["id"])
    detail = analytics.execution(execution_id)
    t, u = detail.traces, detail.token_usage
    steps = list(zip(t["step_type"], t["depth"], t["content"], strict=True))
    usage = [
        (model, int(i), int(o), Decimal(str(cost)))
        for model, i, o, cost in zip(
            u["model"], u["input_tokens"], u["output_tokens"], u["cost_usd"], strict=True
        )
    ]
    return detail.execution, steps, usage


def _check_run(row: dict, usage: list[tuple], agent: str, model: str) -> None:
    assert (row["agent_name"], row["status"], row["model_name"]) == (agent, "success", model)
    assert (row["input_tokens"], row["output_tokens"], row["total_tokens"]) == (2500, 300, 2800)
    assert Decimal(str(row["cost_usd"])) == COST
    assert row["query_preview"] == "Weather in Paris?"
    assert usage == [
        (model, 1000, 200, Decimal("0.00027")),
        (model, 1500, 100, Decimal("0.000285")),
    ]


def test_the_openai_agents_sdk_traced_by_openinference(served: Served) -> None:
    run_agent(served, "openai_agents_run")
    written(served.db_url, 1)
    row, steps, usage = the_run(served.db_url)
    _check_run(row, usage, "Weather", "gpt-4o-mini")  # the agent's model: no response model
    assert steps == [
        ("action", 0, "agent Weather"),
        ("thought", 1, 'get_weather({"city": "Paris"})'),
        ("tool_call", 1, 'get_weather({"city": "Paris"})'),
        ("observation", 1, "sunny"),
        ("final_answer", 1, ANSWER),
    ]


def test_a_hand_written_loop_traced_by_opentelemetry_instrumentation_openai_v2(
    served: Served,
) -> None:
    run_agent(served, "openai_v2_loop")
    written(served.db_url, 1)
    row, steps, usage = the_run(served.db_url)
    _check_run(row, usage, "weather-loop", "gpt-4o-mini-2024-07-18")
    assert steps == [
        ("thought", 0, 'get_weather({"city":"Paris"})'),  # GenAI parts: arguments as JSON
        ("tool_call", 0, 'get_weather({"city": "Paris"})'),
        ("observation", 0, "sunny"),
        ("final_answer", 0, ANSWER),
    ]


def test_langgraph_traced_by_openinference_langchain(served: Served) -> None:
    run_agent(served, "langgraph_run")
    written(served.db_url, 1)
    row, steps, usage = the_run(served.db_url)
    _check_run(row, usage, "Weather", "gpt-4o-mini-2024-07-18")
    assert [step[:2] for step in steps] == [
        ("action", 0), ("thought", 1), ("tool_call", 0), ("observation", 0), ("action", 0),
        ("final_answer", 1),
    ]  # fmt: skip
    assert steps[2][2] == "get_weather(Paris)"
    assert steps[3][2].startswith('{"type": "tool", "data": {"content": "sunny"')
    assert steps[5][2] == ANSWER
