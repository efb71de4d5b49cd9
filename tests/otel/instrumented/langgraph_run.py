"""A LangGraph ReAct agent over langchain-openai, traced by openinference-instrumentation-
langchain, against the test's LLM server."""

from __future__ import annotations

import os

from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.prebuilt import create_react_agent
from openinference.instrumentation.langchain import LangChainInstrumentor

from tests.otel.instrumented.telemetry import provider

tracer_provider = provider()
LangChainInstrumentor().instrument(tracer_provider=tracer_provider)


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return "sunny"


model = ChatOpenAI(model="gpt-4o-mini", base_url=os.environ["LLM_BASE_URL"], api_key="test-key")
graph = create_react_agent(model, [get_weather], name="Weather")
result = graph.invoke({"messages": [("user", "Weather in Paris?")]})
print(result["messages"][-1].content)
tracer_provider.shutdown()
