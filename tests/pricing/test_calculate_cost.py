"""calculate_cost against rates read from genai-prices' data, with the arithmetic done by hand."""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib.metadata import version

import pytest

from aa_notebooks.errors import InvalidInputError
from aa_notebooks.pricing import (
    PricedCost,
    PriceSource,
    UnpricedModelWarning,
    calculate_cost,
    is_priced,
    price_source,
    priced_cost,
    reset_pricing_cache,
)

PACKAGE = f"genai-prices {version('genai-prices')}"


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        # OpenAI gpt-4o, $2.50 / $10.00 per 1M: 1000 * 2.50 / 1e6 + 500 * 10.00 / 1e6
        ("gpt-4o", Decimal("0.0025") + Decimal("0.005")),
        # Anthropic Claude 3.5 Sonnet, $3 / $15: 1000 * 3 / 1e6 + 500 * 15 / 1e6
        ("claude-3-5-sonnet-20240620", Decimal("0.003") + Decimal("0.0075")),
        # Google Gemini 1.5 Pro below its 128k tier, $1.25 / $5: 1000 * 1.25 / 1e6 + 500 * 5 / 1e6
        ("gemini-1.5-pro", Decimal("0.00125") + Decimal("0.0025")),
        # Mistral Large, $2 / $6: 1000 * 2 / 1e6 + 500 * 6 / 1e6
        ("mistral-large-latest", Decimal("0.002") + Decimal("0.003")),
        # Llama 3.1 70B on AWS Bedrock, $0.72 / $0.72: 1000 * 0.72 / 1e6 + 500 * 0.72 / 1e6
        ("meta.llama3-1-70b-instruct-v1:0", Decimal("0.00072") + Decimal("0.00036")),
        # xAI grok-2, $2 / $10: 1000 * 2 / 1e6 + 500 * 10 / 1e6
        ("grok-2", Decimal("0.002") + Decimal("0.005")),
    ],
)
def test_cost_of_1000_in_500_out(model: str, expected: Decimal) -> None:
    assert calculate_cost(model, 1000, 500) == expected
    assert is_priced(model)


def test_cost_has_six_decimal_places() -> None:
    assert str(calculate_cost("gpt-4o", 1000, 500)) == "0.007500"
    assert str(calculate_cost("gpt-4o", 0, 0)) == "0.000000"


def test_rounds_half_up_to_six_places() -> None:
    # 1 input token of gpt-4o = 2.50 / 1e6 = 0.0000025: half-up gives 0.000003 (half-even: 0.000002)
    assert calculate_cost("gpt-4o", 1, 0) == Decimal("0.000003")
    # 3 input tokens of gpt-4o-mini ($0.15 per 1M) = 0.00000045 -> 0.000000
    assert calculate_cost("gpt-4o-mini", 3, 0) == Decimal("0.000000")


@pytest.mark.parametrize(
    "variant",
    [
        "claude-3-5-sonnet-20240620",
        "  Claude-3-5-Sonnet-20240620\n",
        "anthropic/claude-3-5-sonnet-20240620",
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "us.anthropic.claude-3-5-sonnet-20240620-v1:0",
        "eu.anthropic.claude-3-5-sonnet-20240620-v1:0",
        "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0",
        "vertex_ai/claude-3-5-sonnet@20240620",
    ],
)
def test_claude_name_variants_cost_the_same(variant: str) -> None:
    # $3 / $15 per 1M: 10_000 * 3 / 1e6 + 2_000 * 15 / 1e6 = 0.03 + 0.03
    assert calculate_cost(variant, 10_000, 2_000) == Decimal("0.060000")


@pytest.mark.parametrize(
    "variant", ["gpt-4o", "GPT-4o", " gpt-4o ", "openai/gpt-4o", "azure/gpt-4o", "openai:gpt-4o"]
)
def test_gpt_4o_name_variants_cost_the_same(variant: str) -> None:
    # $2.50 / $10.00 per 1M: 10_000 * 2.50 / 1e6 + 2_000 * 10 / 1e6 = 0.025 + 0.02
    assert calculate_cost(variant, 10_000, 2_000) == Decimal("0.045000")


@pytest.mark.parametrize(
    "variant",
    [
        "gemini-1.5-pro",
        "google/gemini-1.5-pro",
        "vertex_ai/gemini-1.5-pro",
        "gemini/gemini-1.5-pro",
    ],
)
def test_gemini_name_variants_cost_the_same(variant: str) -> None:
    # $1.25 / $5 per 1M: 10_000 * 1.25 / 1e6 + 2_000 * 5 / 1e6 = 0.0125 + 0.01
    assert calculate_cost(variant, 10_000, 2_000) == Decimal("0.022500")


@pytest.mark.parametrize(
    "variant",
    [
        "meta.llama3-1-70b-instruct-v1:0",
        "us.meta.llama3-1-70b-instruct-v1:0",
        "bedrock/meta.llama3-1-70b-instruct-v1:0",
    ],
)
def test_bedrock_llama_variants_cost_the_same(variant: str) -> None:
    # $0.72 / $0.72 per 1M: 10_000 * 0.72 / 1e6 + 2_000 * 0.72 / 1e6 = 0.0072 + 0.00144
    assert calculate_cost(variant, 10_000, 2_000) == Decimal("0.008640")


def test_bedrock_regional_premium_is_kept() -> None:
    # Claude Sonnet 4.5: global inference $3 / $15, US regional inference $3.30 / $16.50 per 1M.
    # global: 1000 * 3 / 1e6 + 500 * 15 / 1e6 = 0.003 + 0.0075
    assert calculate_cost("global.anthropic.claude-sonnet-4-5-20250929-v1:0", 1000, 500) == Decimal(
        "0.010500"
    )
    # regional: 1000 * 3.30 / 1e6 + 500 * 16.50 / 1e6 = 0.0033 + 0.00825
    assert calculate_cost("us.anthropic.claude-sonnet-4-5-20250929-v1:0", 1000, 500) == Decimal(
        "0.011550"
    )


def test_tier_boundary_uses_the_package_rule() -> None:
    # Gemini 1.5 Pro: $1.25 / $5 per 1M up to 128k input tokens, $2.50 / $10 for all tokens above.
    # 128_000 * 1.25 / 1e6 + 1000 * 5 / 1e6 = 0.16 + 0.005
    assert calculate_cost("gemini-1.5-pro", 128_000, 1000) == Decimal("0.165000")
    # 128_001 * 2.50 / 1e6 + 1000 * 10 / 1e6 = 0.3200025 + 0.01 = 0.3300025 -> 0.330003
    assert calculate_cost("gemini-1.5-pro", 128_001, 1000) == Decimal("0.330003")


def test_price_history_follows_at() -> None:
    # o3 cost $10 / $40 per 1M until 2025-06-10, then $2 / $8.
    before = datetime(2025, 1, 1, tzinfo=UTC)
    after = datetime(2025, 7, 1, tzinfo=UTC)
    # 1000 * 10 / 1e6 + 500 * 40 / 1e6 = 0.01 + 0.02
    assert calculate_cost("o3", 1000, 500, at=before) == Decimal("0.030000")
    # 1000 * 2 / 1e6 + 500 * 8 / 1e6 = 0.002 + 0.004
    assert calculate_cost("o3", 1000, 500, at=after) == Decimal("0.006000")
    assert price_source("o3", at=before) == PriceSource(
        "genai-prices",
        "o3",
        Decimal("10"),
        Decimal("40"),
        "openai",
        Decimal("0.5"),
        None,
        PACKAGE,
    )  # genai-prices' cache read rate for that price; no cache write rate; undated
    assert priced_cost("o3", 1000, 500, at=after) == PricedCost(
        Decimal("0.006000"), PACKAGE, date(2025, 6, 10)
    )  # the price that took effect on 2025-06-10


def test_time_of_day_prices_follow_at() -> None:
    # deepseek-chat: $0.27 / $1.10 per 1M from 00:30 to 16:30 UTC, half that off-peak.
    # 1000 * 0.27 / 1e6 + 500 * 1.10 / 1e6 = 0.00027 + 0.00055
    peak = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert calculate_cost("deepseek-chat", 1000, 500, at=peak) == Decimal("0.000820")
    # 1000 * 0.135 / 1e6 + 500 * 0.55 / 1e6 = 0.000135 + 0.000275
    off_peak = datetime(2025, 3, 1, 20, 0, tzinfo=UTC)
    assert calculate_cost("deepseek-chat", 1000, 500, at=off_peak) == Decimal("0.000410")


def test_dated_tiers_are_applied() -> None:
    # claude-sonnet-4-6 had a 200k tier ($6 / $22.50 per 1M) until 2026-03-13, then flat $3 / $15.
    # 250_000 * 6 / 1e6 + 1000 * 22.50 / 1e6 = 1.5 + 0.0225
    tiered = datetime(2026, 1, 1, tzinfo=UTC)
    assert calculate_cost("claude-sonnet-4-6", 250_000, 1000, at=tiered) == Decimal("1.522500")
    # 250_000 * 3 / 1e6 + 1000 * 15 / 1e6 = 0.75 + 0.015
    flat = datetime(2026, 6, 1, tzinfo=UTC)
    assert calculate_cost("claude-sonnet-4-6", 250_000, 1000, at=flat) == Decimal("0.765000")


def test_naive_at_is_utc() -> None:
    # 20:00 naive = 20:00 UTC, deepseek-chat off-peak: 1000 * 0.135 / 1e6 + 500 * 0.55 / 1e6
    assert calculate_cost("deepseek-chat", 1000, 500, at=datetime(2025, 3, 1, 20)) == Decimal(
        "0.000410"
    )


def test_price_source_of_a_package_model() -> None:
    assert price_source("openai/gpt-4o") == PriceSource(
        "genai-prices",
        "gpt-4o",
        Decimal("2.5"),
        Decimal("10"),
        "openai",
        Decimal("1.25"),
        None,
        PACKAGE,
    )


@pytest.mark.parametrize(("input_tokens", "output_tokens"), [(-1, 0), (0, -5)])
def test_negative_tokens_are_rejected(input_tokens: int, output_tokens: int) -> None:
    with pytest.raises(InvalidInputError, match="must be zero or more"):
        calculate_cost("gpt-4o", input_tokens, output_tokens)


def test_negative_tokens_are_rejected_even_for_unknown_models() -> None:
    with pytest.raises(InvalidInputError, match="output_tokens must be zero or more, got -1"):
        calculate_cost(None, 0, -1)


def test_fractional_tokens_are_rejected() -> None:
    with pytest.raises(InvalidInputError, match="input_tokens must be a whole number"):
        calculate_cost("gpt-4o", 1.5, 0)  # type: ignore[arg-type]


def test_unknown_model_costs_zero_and_warns_once() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        costs = [calculate_cost("acme-llm-9000", 1000, 500) for _ in range(3)]
    assert costs == [Decimal("0.000000")] * 3
    assert str(costs[0]) == "0.000000"
    assert [w.category for w in caught] == [UnpricedModelWarning]
    assert "acme-llm-9000" in str(caught[0].message)
    assert not is_priced("acme-llm-9000")
    assert price_source("acme-llm-9000") is None


def test_each_unknown_model_warns_once() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for model in ["acme-a", "acme-b", "acme-a", "acme-b"]:
            calculate_cost(model, 1, 1)
    assert sorted(str(w.message).split("'")[1] for w in caught) == ["acme-a", "acme-b"]


def test_reset_lets_the_warning_show_again() -> None:
    with pytest.warns(UnpricedModelWarning):
        calculate_cost("acme-llm-9000", 1, 1)
    reset_pricing_cache()
    with pytest.warns(UnpricedModelWarning):
        calculate_cost("acme-llm-9000", 1, 1)


def test_unknown_deployment_name_is_unpriced() -> None:
    with pytest.warns(UnpricedModelWarning):
        assert calculate_cost("azure/my-company-deployment", 1000, 500) == Decimal("0.000000")


@pytest.mark.parametrize("model", [None, "", "   "])
def test_missing_model_costs_zero_without_warning(model: str | None) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert calculate_cost(model, 1000, 500) == Decimal("0.000000")
    assert not is_priced(model)
    assert price_source(model) is None


def test_numpy_integers_are_token_counts() -> None:
    numpy = pytest.importorskip("numpy")
    # gpt-4o: 1000 * 2.50 / 1e6 + 500 * 10 / 1e6 = 0.0025 + 0.005
    assert calculate_cost("gpt-4o", numpy.int64(1000), numpy.int64(500)) == Decimal("0.007500")


def test_a_bool_is_no_token_count() -> None:
    """True was taken as 1 token (Python's bool is an int)."""
    with pytest.raises(InvalidInputError, match="input_tokens must be a whole number, got True"):
        calculate_cost("gpt-4o", True, 0)
