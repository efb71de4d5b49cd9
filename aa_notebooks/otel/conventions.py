"""What a span means under the OpenTelemetry GenAI conventions and OpenInference's.

Attribute names are the conventions' own (opentelemetry-semantic-conventions' `gen_ai_*`
attributes and openinference-semantic-conventions' `SpanAttributes`); they are spelled out here
so that reading spans needs neither package. Every reader tolerates a missing or mistyped value:
spans come from code the kit did not write, and what cannot be read is unknown, not an error.
"""

from __future__ import annotations

import enum
import json
import uuid
from collections.abc import Iterator
from typing import Any

from aa_notebooks.otel.spans import Span, SpanError

# GenAI semantic conventions
OPERATION = "gen_ai.operation.name"
AGENT_NAME, AGENT_ID = "gen_ai.agent.name", "gen_ai.agent.id"
REQUEST_MODEL, RESPONSE_MODEL = "gen_ai.request.model", "gen_ai.response.model"
INPUT_TOKENS, OUTPUT_TOKENS = "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"
OLD_INPUT_TOKENS, OLD_OUTPUT_TOKENS = "gen_ai.usage.prompt_tokens", "gen_ai.usage.completion_tokens"
CACHE_READ = "gen_ai.usage.cache_read.input_tokens"
CACHE_WRITE = "gen_ai.usage.cache_creation.input_tokens"
REASONING = "gen_ai.usage.reasoning.output_tokens"
OLD_REASONING = "gen_ai.usage.reasoning_tokens"  # before the conventions named it as above
INPUT_MESSAGES, OUTPUT_MESSAGES = "gen_ai.input.messages", "gen_ai.output.messages"
CONVERSATION_ID = "gen_ai.conversation.id"
TOOL_NAME = "gen_ai.tool.name"
TOOL_ARGUMENTS, TOOL_RESULT = "gen_ai.tool.call.arguments", "gen_ai.tool.call.result"
AGENT_OPERATIONS = frozenset({"invoke_agent"})
LLM_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "embeddings"})
TOOL_OPERATIONS = frozenset({"execute_tool"})
# OpenInference
SPAN_KIND = "openinference.span.kind"
OI_AGENT_NAME = "agent.name"
OI_MODEL = "llm.model_name"
OI_EMBEDDING_MODEL = "embedding.model_name"
OI_PROMPT_TOKENS, OI_COMPLETION_TOKENS = "llm.token_count.prompt", "llm.token_count.completion"
OI_CACHE_READ = "llm.token_count.prompt_details.cache_read"
OI_REASONING = "llm.token_count.completion_details.reasoning"
OI_CACHE_WRITE = "llm.token_count.prompt_details.cache_write"
OI_INPUT_MESSAGES, OI_OUTPUT_MESSAGES = "llm.input_messages", "llm.output_messages"
INPUT_VALUE, OUTPUT_VALUE = "input.value", "output.value"
METADATA = "metadata"
OI_TOOL_NAME = "tool.name"
# General conventions
USER_IDS = ("user.id", "enduser.id")
SESSION_IDS = ("session.id", CONVERSATION_ID)
ERROR_TYPE = "error.type"
EXCEPTION_EVENT, EXCEPTION_TYPE, EXCEPTION_MESSAGE = (
    "exception",
    "exception.type",
    "exception.message",
)


class Role(enum.Enum):
    """What a span is to the mapping."""

    agent = "agent"
    llm = "llm"
    tool = "tool"
    other = "other"


def role_of(span: Span) -> Role:
    """The span's role, from `gen_ai.operation.name` or `openinference.span.kind`."""
    operation = span.attributes.get(OPERATION)
    kind = span.attributes.get(SPAN_KIND)
    if operation in AGENT_OPERATIONS or kind == "AGENT":
        return Role.agent
    if operation in LLM_OPERATIONS or kind in ("LLM", "EMBEDDING"):
        return Role.llm
    if operation in TOOL_OPERATIONS or kind == "TOOL":
        return Role.tool
    return Role.other


def named_agent(span: Span) -> str | None:
    """The agent name an attribute gives (`gen_ai.agent.name`, OpenInference `agent.name`)."""
    return text(span.attributes.get(AGENT_NAME)) or text(span.attributes.get(OI_AGENT_NAME))


def agent_name(span: Span) -> str | None:
    """The name the user gave the agent: an attribute, else the span name less its operation."""
    return named_agent(span) or _without_prefix(span.name, "invoke_agent") or None


def tool_name(span: Span) -> str:
    """The tool's name: an attribute, else the span name less its operation."""
    named = text(span.attributes.get(TOOL_NAME)) or text(span.attributes.get(OI_TOOL_NAME))
    return named or _without_prefix(span.name, "execute_tool")


def is_graph_node(span: Span) -> bool:
    """Whether the span is a LangGraph node's (OpenInference's LangChain instrumentation puts
    the node's name in the span's `metadata` JSON)."""
    metadata = span.attributes.get(METADATA)
    return isinstance(metadata, str) and '"langgraph_node"' in metadata


def model_of(span: Span) -> str | None:
    """The model that answered (response model), else the one asked for."""
    for name in (RESPONSE_MODEL, REQUEST_MODEL, OI_MODEL, OI_EMBEDDING_MODEL):
        if found := text(span.attributes.get(name)):
            return found
    return None


TOKEN_COUNTS = (
    INPUT_TOKENS, OI_PROMPT_TOKENS, OLD_INPUT_TOKENS, OUTPUT_TOKENS, OI_COMPLETION_TOKENS,
    OLD_OUTPUT_TOKENS, CACHE_READ, OI_CACHE_READ, CACHE_WRITE, OI_CACHE_WRITE, REASONING,
    OLD_REASONING, OI_REASONING,
)  # fmt: skip
MAX_TOKENS = 2**31 - 1
"""The most tokens a count may hold: the token columns are INTEGER."""


def checked_counts(span: Span) -> Span:
    """The span, or SpanError when a token count it reports is a number no token column holds
    (negative, or past INTEGER): refused and counted in partial_success, rather than read as no
    count, or refused by the database after the request was answered."""
    for name in TOKEN_COUNTS:
        value = span.attributes.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if not 0 <= value <= MAX_TOKENS:
            raise SpanError(f"span {span.name!r}: {name} = {value} is outside 0 to {MAX_TOKENS:,}")
    return span


def token_count(span: Span, *names: str) -> int | None:
    """The first of the named counts the span reports, when it is a whole number >= 0."""
    for name in names:
        value = span.attributes.get(name)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None


def input_tokens(span: Span) -> int | None:
    """Input tokens, cached ones included (as both conventions count them)."""
    return token_count(span, INPUT_TOKENS, OI_PROMPT_TOKENS, OLD_INPUT_TOKENS)


def output_tokens(span: Span) -> int | None:
    """Output tokens."""
    return token_count(span, OUTPUT_TOKENS, OI_COMPLETION_TOKENS, OLD_OUTPUT_TOKENS)


def cache_read_tokens(span: Span) -> int | None:
    """Input tokens read from the provider's prompt cache."""
    return token_count(span, CACHE_READ, OI_CACHE_READ)


def cache_write_tokens(span: Span) -> int | None:
    """Input tokens written to the provider's prompt cache."""
    return token_count(span, CACHE_WRITE, OI_CACHE_WRITE)


def reasoning_tokens(span: Span) -> int | None:
    """Output tokens spent on reasoning (part of the output tokens)."""
    return token_count(span, REASONING, OLD_REASONING, OI_REASONING)


def as_uuid(value: Any) -> uuid.UUID | None:
    """A UUID attribute, or None when the value is not one."""
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def first_user_message(span: Span) -> str | None:
    """The text of the first user message the span's input holds, in any convention."""
    for message in _messages(span, INPUT_MESSAGES, OI_INPUT_MESSAGES, "gen_ai.prompt"):
        if message[0] == "user" and message[1]:
            return message[1]
    return None


def input_text(span: Span) -> str | None:
    """OpenInference's `input.value` (an agent's or tool's input), as text."""
    return _as_text(span.attributes.get(INPUT_VALUE))


def output_text(span: Span) -> str | None:
    """What an LLM call answered: its output messages' text and tool calls, else output.value."""
    parts = [
        content
        for _, content in _messages(span, OUTPUT_MESSAGES, OI_OUTPUT_MESSAGES, "gen_ai.completion")
        if content
    ]
    return "\n".join(parts) if parts else _as_text(span.attributes.get(OUTPUT_VALUE))


def tool_arguments(span: Span) -> str | None:
    """The arguments a tool was called with."""
    return _as_text(span.attributes.get(TOOL_ARGUMENTS)) or input_text(span)


def tool_result(span: Span) -> str | None:
    """What a tool returned."""
    return _as_text(span.attributes.get(TOOL_RESULT)) or _as_text(span.attributes.get(OUTPUT_VALUE))


def error_of(span: Span) -> tuple[str | None, str | None]:
    """(type, message) of the span's error: its exception event, else error.type and the
    status message."""
    for event in span.events:
        if event.name == EXCEPTION_EVENT:
            kind = text(event.attributes.get(EXCEPTION_TYPE))
            message = text(event.attributes.get(EXCEPTION_MESSAGE))
            if kind or message:
                return kind, message or span.status_message or None
    return text(span.attributes.get(ERROR_TYPE)), span.status_message or None


def is_timeout(error_type: str | None, message: str | None) -> bool:
    """Whether an error is a timeout (TimeoutError, APITimeoutError, ReadTimeout, ...)."""
    return "timeout" in (error_type or "").lower() or "timed out" in (message or "").lower()


def text(value: Any) -> str | None:
    """A non-blank string attribute, stripped; None otherwise."""
    return value.strip() or None if isinstance(value, str) else None


def _without_prefix(name: str, operation: str) -> str:
    name = name.strip()
    if name == operation:
        return ""
    return name[len(operation) + 1 :].strip() if name.startswith(operation + " ") else name


def _messages(
    span: Span, json_name: str, flat_prefix: str, old_prefix: str
) -> Iterator[tuple[str, str]]:
    """(role, text) of each message: the GenAI JSON list, OpenInference's flattened
    `<prefix>.<i>.message.*` attributes, or the old GenAI `<prefix>.<i>.role/content`."""
    document = span.attributes.get(json_name)
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            document = None
    if isinstance(document, list):
        for message in document:
            if isinstance(message, dict):
                yield str(message.get("role") or ""), _parts_text(message)
        return
    for prefix, role_key, content_key in (
        (flat_prefix, "message.role", "message.content"),
        (old_prefix, "role", "content"),
    ):
        index = 0
        while (role := span.attributes.get(f"{prefix}.{index}.{role_key}")) is not None or (
            span.attributes.get(f"{prefix}.{index}.{content_key}") is not None
        ):
            content = _as_text(span.attributes.get(f"{prefix}.{index}.{content_key}"))
            calls = _flat_tool_calls(span, f"{prefix}.{index}.message.tool_calls")
            yield str(role or ""), "\n".join(part for part in (content, calls) if part)
            index += 1


def _flat_tool_calls(span: Span, prefix: str) -> str:
    calls = []
    index = 0
    while (name := span.attributes.get(f"{prefix}.{index}.tool_call.function.name")) is not None:
        arguments = span.attributes.get(f"{prefix}.{index}.tool_call.function.arguments") or ""
        calls.append(f"{name}({arguments})")
        index += 1
    return "\n".join(calls)


def _parts_text(message: dict[str, Any]) -> str:
    """A GenAI message's text parts and tool calls as text."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    found = []
    for part in message.get("parts") or []:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text" and isinstance(part.get("content"), str):
            found.append(part["content"])
        elif part.get("type") == "tool_call":
            arguments = part.get("arguments")
            if not isinstance(arguments, str):
                arguments = json.dumps(arguments, separators=(",", ":"))
            found.append(f"{part.get('name')}({arguments})")
    return "\n".join(found)


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str, separators=(",", ":"))
