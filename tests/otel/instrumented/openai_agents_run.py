"""The OpenAI Agents SDK, traced by openinference-instrumentation-openai-agents: one agent with
a weather tool, against the test's LLM server (LLM_BASE_URL)."""

from __future__ import annotations

import os

from agents import (
    Agent,
    Runner,
    function_tool,
    set_default_openai_api,
    set_default_openai_client,
    set_trace_processors,
)
from openai import AsyncOpenAI
from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor

from tests.otel.instrumented.telemetry import provider

tracer_provider = provider()
set_trace_processors([])  # nothing goes to OpenAI's own trace backend
OpenAIAgentsInstrumentor().instrument(tracer_provider=tracer_provider)
set_default_openai_client(AsyncOpenAI(base_url=os.environ["LLM_BASE_URL"], api_key="test-key"))
set_default_openai_api("chat_completions")


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return "sunny"


agent = Agent(name="Weather", instructions="Be brief.", tools=[get_weather], model="gpt-4o-mini")
print(Runner.run_sync(agent, "Weather in Paris?").final_output)
tracer_provider.shutdown()
