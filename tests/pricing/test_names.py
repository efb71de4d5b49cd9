"""Name rules: the lookups tried for a model name, and where they land in genai-prices."""

from __future__ import annotations

import pytest

from aa_notebooks.pricing import price_source
from aa_notebooks.pricing.names import lookups


def test_plain_name_is_looked_up_as_is() -> None:
    assert lookups("gpt-4o") == ((None, "gpt-4o"),)


def test_case_and_whitespace_are_ignored() -> None:
    assert lookups("  GPT-4o\t") == ((None, "gpt-4o"),)


def test_blank_name_has_no_lookups() -> None:
    assert lookups("   ") == ()


@pytest.mark.parametrize(
    ("name", "provider", "model"),
    [
        ("openai/gpt-4o", "openai", "gpt-4o"),
        ("azure/gpt-4o", "azure", "gpt-4o"),
        ("azure_ai/gpt-4o", "azure", "gpt-4o"),
        ("anthropic/claude-3-5-sonnet-20240620", "anthropic", "claude-3-5-sonnet-20240620"),
        ("google/gemini-1.5-pro", "google", "gemini-1.5-pro"),
        ("gemini/gemini-1.5-pro", "google", "gemini-1.5-pro"),
        ("vertex_ai/gemini-1.5-pro", "google", "gemini-1.5-pro"),
        ("mistral/mistral-large-latest", "mistral", "mistral-large-latest"),
        ("xai/grok-2", "x-ai", "grok-2"),
        ("openrouter/openai/gpt-4o", "openrouter", "openai/gpt-4o"),
        # pydantic-ai's form, a colon after the provider
        ("openai:gpt-4o", "openai", "gpt-4o"),
        ("anthropic:claude-3-5-sonnet-20240620", "anthropic", "claude-3-5-sonnet-20240620"),
        ("google-gla:gemini-1.5-pro", "google", "gemini-1.5-pro"),
    ],
)
def test_provider_prefix_becomes_a_provider_hint(name: str, provider: str, model: str) -> None:
    found = lookups(name)
    assert found[0] == (None, name)
    assert found[1] == (provider, model)
    assert found[-1] == (None, model)


def test_unknown_prefix_is_kept() -> None:
    assert lookups("acme/gpt-4o") == ((None, "acme/gpt-4o"),)


def test_bedrock_id_tries_aws_then_the_bare_model() -> None:
    assert lookups("us.anthropic.claude-3-5-sonnet-20240620-v1:0") == (
        ("aws", "us.anthropic.claude-3-5-sonnet-20240620-v1:0"),
        ("aws", "anthropic.claude-3-5-sonnet-20240620-v1:0"),
        (None, "us.anthropic.claude-3-5-sonnet-20240620-v1:0"),
        (None, "claude-3-5-sonnet-20240620"),
    )


def test_bedrock_prefix_and_bedrock_id() -> None:
    assert lookups("bedrock/meta.llama3-1-70b-instruct-v1:0") == (
        ("aws", "meta.llama3-1-70b-instruct-v1:0"),
        (None, "bedrock/meta.llama3-1-70b-instruct-v1:0"),
        ("aws", "llama3-1-70b-instruct"),
        (None, "llama3-1-70b-instruct"),
    )


@pytest.mark.parametrize(
    ("name", "bare"),
    [
        ("anthropic.claude-3-haiku-20240307-v1:0", "claude-3-haiku-20240307"),
        ("apac.anthropic.claude-3-haiku-20240307-v1:0", "claude-3-haiku-20240307"),
        ("eu.meta.llama3-2-3b-instruct-v1:0", "llama3-2-3b-instruct"),
        ("amazon.nova-pro-v1:0", "nova-pro"),
        ("amazon.titan-embed-text-v2:0", "titan-embed-text"),
        ("cohere.command-r-plus-v1:0", "command-r-plus"),
    ],
)
def test_bedrock_region_vendor_and_version_are_stripped(name: str, bare: str) -> None:
    found = lookups(name)
    assert found[0] == ("aws", name)
    assert found[-1] == (None, bare)


@pytest.mark.parametrize(
    ("name", "bare"),
    [("claude-3-5-sonnet-20240620-v1:0", "claude-3-5-sonnet-20240620"), ("my-model:0", "my-model")],
)
def test_version_suffix_is_stripped_without_a_vendor(name: str, bare: str) -> None:
    assert lookups(name) == ((None, name), (None, bare))


@pytest.mark.parametrize("name", ["gpt-4.1", "deepseek-v3", "o1-mini", "llama3:8b"])
def test_ordinary_names_are_left_alone(name: str) -> None:
    assert lookups(name) == ((None, name),)


@pytest.mark.parametrize(
    ("name", "provider", "matched"),
    [
        ("gpt-4o", "openai", "gpt-4o"),
        ("openai/gpt-4o", "openai", "gpt-4o"),
        ("azure/gpt-4o", "azure", "gpt-4o"),
        ("azure/gpt-35-turbo", "azure", "gpt-3.5-turbo"),
        ("anthropic/claude-3-5-sonnet-20240620", "anthropic", "claude-3-5-sonnet"),
        ("vertex_ai/claude-3-5-sonnet@20240620", "google", "claude-3-5-sonnet"),
        (
            "us.anthropic.claude-3-5-sonnet-20240620-v1:0",
            "aws",
            "regional.anthropic.claude-3-5-sonnet-20240620-v1:0",
        ),
        ("bedrock/us.meta.llama3-1-70b-instruct-v1:0", "aws", "meta.llama3-1-70b-instruct-v1:0"),
        ("claude-3-5-sonnet-20240620-v1:0", "anthropic", "claude-3-5-sonnet"),
        ("deepseek/deepseek-chat", "deepseek", "deepseek-chat"),
        ("openrouter/openai/gpt-4o", "openrouter", "openai/gpt-4o"),
    ],
)
def test_names_resolve_to_the_expected_package_model(
    name: str, provider: str, matched: str
) -> None:
    source = price_source(name)
    assert source is not None
    assert (source.source, source.provider, source.matched_name) == (
        "genai-prices",
        provider,
        matched,
    )
