"""A hand-written tool loop over the OpenAI client, traced by opentelemetry-instrumentation-
openai-v2 (GenAI `chat` spans); the loop adds its own root and `execute_tool` span."""

from __future__ import annotations

import json
import os

from openai import OpenAI
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

from tests.otel.instrumented.telemetry import provider

tracer_provider = provider()
OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)
tracer = tracer_provider.get_tracer("weather-loop")
client = OpenAI(base_url=os.environ["LLM_BASE_URL"], api_key="test-key")
CITY = {"type": "object", "properties": {"city": {"type": "string"}}}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": CITY}}]

with tracer.start_as_current_span("weather-loop"):
    messages: list = [{"role": "user", "content": "Weather in Paris?"}]
    while True:
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=TOOLS)
        message = reply.choices[0].message
        if not message.tool_calls:
            print(message.content)
            break
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            with tracer.start_as_current_span(
                f"execute_tool {call.function.name}",
                attributes={
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": call.function.name,
                    "gen_ai.tool.call.id": call.id,
                    "gen_ai.tool.call.arguments": call.function.arguments,
                },
            ) as span:
                result = "sunny" if json.loads(call.function.arguments)["city"] == "Paris" else "?"
                span.set_attribute("gen_ai.tool.call.result", result)
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
tracer_provider.shutdown()
