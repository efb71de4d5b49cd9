"""Name rules: which (provider, model) lookups to try, in order, for a model name as logged."""

from __future__ import annotations

import re

# Provider hint before the first "/" (LiteLLM, OpenRouter, configs) or, with no "/", the first ":"
# (pydantic-ai's `openai:gpt-4o`) -> genai-prices provider id.
PROVIDER_PREFIXES: dict[str, str] = {
    "openai": "openai",
    "azure": "azure",
    "azure_ai": "azure",
    "anthropic": "anthropic",
    "google": "google",
    "gemini": "google",
    "vertex_ai": "google",
    "vertex_ai_beta": "google",
    "bedrock": "aws",
    "aws": "aws",
    "mistral": "mistral",
    "mistralai": "mistral",
    "deepseek": "deepseek",
    "groq": "groq",
    "xai": "x-ai",
    "cohere": "cohere",
    "together_ai": "together",
    "openrouter": "openrouter",
    "google-gla": "google",
    "google-vertex": "google",
}

# AWS Bedrock model id: optional cross-region prefix, vendor, model, optional version suffix.
BEDROCK_ID = re.compile(
    r"(?:(?P<region>us|us-gov|eu|apac|au|jp|ca|in|global)\.)?"
    r"(?P<vendor>anthropic|meta|amazon|mistral|cohere|ai21|deepseek|openai|qwen|writer|google)\."
    r"(?P<model>.+?)"
    r"(?:-v\d+:\d+|:\d+)?"
)

# Version suffix that deployment ids append to a model name: "-v1:0" or ":0".
VERSION_SUFFIX = re.compile(r"(?:-v\d+)?:\d+$")

Lookup = tuple[str | None, str]
"""A genai-prices provider id (None: let genai-prices guess) and a lower-case model name."""


def lookups(name: str) -> tuple[Lookup, ...]:
    """The lookups for `name`, most specific first, so provider-specific prices win over generic."""
    full = name.strip().lower()
    if not full:
        return ()
    head, separator, rest = full.partition("/")
    if not separator:  # pydantic-ai writes the provider before a colon
        head, separator, rest = full.partition(":")
    hint = PROVIDER_PREFIXES.get(head) if separator else None
    ref = rest if hint else full
    tried: list[Lookup] = []
    if bedrock := BEDROCK_ID.fullmatch(ref):
        # Bedrock prices (e.g. the regional premium) come from genai-prices' "aws" provider.
        regionless = ref.removeprefix(f"{bedrock['region']}.") if bedrock["region"] else ref
        tried += [("aws", ref), ("aws", regionless)]
        bare = bedrock["model"]
    else:
        bare = VERSION_SUFFIX.sub("", ref)
    tried += [(None, full), (hint, ref), (hint, bare), (None, bare)]
    return tuple(dict.fromkeys(tried))
