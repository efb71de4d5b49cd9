"""Prompt-cache and reasoning tokens: cached input tokens cost the model's cache rates (else the
input rate), reasoning tokens are part of the output; worked out by hand from the rates."""

from __future__ import annotations

from decimal import Decimal

import pytest
from genai_prices import Usage, calc_price

from aa_notebooks.errors import InvalidInputError
from aa_notebooks.pricing import calculate_cost, price_source
from tests.pricing.test_user_file import WriteFile


def test_anthropic_cache_reads_and_writes() -> None:
    """claude-sonnet-4: $3 in, $15 out, $0.30 cache read, $3.75 cache write per 1M. 10,000
    input tokens of which 6,000 read and 1,000 written; 2,000 output of which 500 reasoning:
    3,000 * 3 + 6,000 * 0.30 + 1,000 * 3.75 + 2,000 * 15 = 44,550 per 1M = $0.044550."""
    source = price_source("claude-sonnet-4-20250514")
    assert source is not None
    assert (source.cache_read_per_million, source.cache_write_per_million) == (
        Decimal("0.3"),
        Decimal("3.75"),
    )
    cost = calculate_cost(
        "claude-sonnet-4-20250514", 10_000, 2_000,
        cache_read_tokens=6_000, cache_write_tokens=1_000, reasoning_tokens=500,
    )  # fmt: skip
    assert cost == Decimal("0.044550")
    usage = Usage(
        input_tokens=10_000, output_tokens=2_000, cache_read_tokens=6_000, cache_write_tokens=1_000
    )
    assert cost == calc_price(usage, "claude-sonnet-4-20250514").total_price  # the package agrees
    assert calculate_cost("claude-sonnet-4-20250514", 10_000, 2_000) == Decimal("0.060000")


def test_a_model_without_a_cache_write_price_writes_at_the_input_rate() -> None:
    """gpt-4o: $2.50 in, $10 out, $1.25 cache read, no cache write price: 3,000 * 2.50 +
    6,000 * 1.25 + 1,000 * 2.50 + 2,000 * 10 = 37,500 per 1M = $0.037500."""
    cost = calculate_cost(
        "gpt-4o", 10_000, 2_000, cache_read_tokens=6_000, cache_write_tokens=1_000
    )
    assert cost == Decimal("0.037500")


def test_the_price_file_takes_cache_rates(write_price_file: WriteFile, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = write_price_file(
        '[models."my-model"]\ninput_per_million = 2\noutput_per_million = 8\n'
        "cache_read_per_million = 0.5\n"
    )
    monkeypatch.setenv("AA_PRICING_FILE", str(path))
    # 600,000 uncached * 2 + 400,000 read * 0.50 = 1,400,000 per 1M; no write rate: input rate
    assert calculate_cost("my-model", 1_000_000, 0, cache_read_tokens=400_000) == Decimal("1.4")
    assert calculate_cost("my-model", 1_000_000, 0, cache_write_tokens=400_000) == Decimal("2")
    source = price_source("my-model")
    assert source is not None and source.cache_read_per_million == Decimal("0.5")
    assert source.cache_write_per_million is None


def test_a_bad_cache_rate_in_the_file_is_named(write_price_file: WriteFile, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from aa_notebooks.errors import PricingError
    from aa_notebooks.pricing import load_price_file

    path = write_price_file(
        '[models."my-model"]\ninput_per_million = 2\noutput_per_million = 8\n'
        'cache_write_per_million = "cheap"\n'
    )
    with pytest.raises(PricingError, match="cache_write_per_million must be a number of dollars"):
        load_price_file(path)


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ({"cache_read_tokens": 700, "cache_write_tokens": 400},
         r"cache_read_tokens \+ cache_write_tokens \(700 \+ 400\) exceed input_tokens \(1000\)"),
        ({"reasoning_tokens": 600}, r"reasoning_tokens \(600\) exceed output_tokens \(500\)"),
        ({"cache_read_tokens": -1}, "cache_read_tokens must be zero or more, got -1"),
    ],
)  # fmt: skip
def test_parts_must_fit_in_their_totals(parts: dict[str, int], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        calculate_cost("gpt-4o", 1000, 500, **parts)
