"""Model pricing: USD cost of LLM calls from genai-prices' offline data plus an optional user file.

Prices never come from the network: genai-prices' bundled snapshot is used as installed. A model
nothing prices costs 0, is reported by `is_priced`/`price_source`, and warns once per process.
"""

from __future__ import annotations

import os
import warnings
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from aa_notebooks.errors import InvalidInputError, PricingError
from aa_notebooks.pricing.resolver import (
    ENV_PRICING_FILE,
    Resolution,
    choose_price_file,
    clear_caches,
    resolve,
)
from aa_notebooks.pricing.source import PricedCost, PriceSource
from aa_notebooks.pricing.user_file import load_price_file
from aa_notebooks.validation import non_negative_int

__all__ = [
    "PriceSource",
    "PricedCost",
    "UnpricedModelWarning",
    "calculate_cost",
    "is_priced",
    "load_price_file",
    "price_source",
    "priced_cost",
    "recorded_cost",
    "reset_pricing_cache",
    "set_price_file",
]

_ZERO = Decimal("0.000000")
_MICRO_USD = Decimal("0.000001")
_warned: set[str] = set()


class UnpricedModelWarning(UserWarning):
    """A model has no known price, so its cost is recorded as 0."""


def calculate_cost(
    model: str | None,
    input_tokens: int,
    output_tokens: int,
    *,
    cache_read_tokens: int | None = 0,
    cache_write_tokens: int | None = 0,
    reasoning_tokens: int | None = 0,
    at: datetime | None = None,
) -> Decimal:
    """USD for one call, 6 places half-up, at the prices in force at `at` (naive=UTC, None=now).

    `input_tokens` includes the cache reads and writes, `output_tokens` the reasoning tokens (as
    the OpenTelemetry GenAI conventions count them): cache reads and writes cost the model's
    cache rates where it has them (else the input rate); reasoning tokens cost the output rate,
    so they are only checked here. None counts as 0."""
    return priced_cost(
        model, input_tokens, output_tokens,
        cache_read_tokens=cache_read_tokens, cache_write_tokens=cache_write_tokens,
        reasoning_tokens=reasoning_tokens, at=at,
    ).cost_usd  # fmt: skip


def priced_cost(
    model: str | None,
    input_tokens: int,
    output_tokens: int,
    *,
    cache_read_tokens: int | None = 0,
    cache_write_tokens: int | None = 0,
    reasoning_tokens: int | None = 0,
    at: datetime | None = None,
) -> PricedCost:
    """`calculate_cost` with the provenance of its price: the price table's version and the day
    the price took effect (what token usage rows record)."""
    input_tokens = non_negative_int(input_tokens, "input_tokens")
    output_tokens = non_negative_int(output_tokens, "output_tokens")
    # the optional counts are mostly absent: check only those given (a tracked run prices every
    # LLM call, so this is on the agent's path)
    read = non_negative_int(cache_read_tokens, "cache_read_tokens") if cache_read_tokens else 0
    write = non_negative_int(cache_write_tokens, "cache_write_tokens") if cache_write_tokens else 0
    reasoning = non_negative_int(reasoning_tokens, "reasoning_tokens") if reasoning_tokens else 0
    if read or write or reasoning:
        _check_token_parts(input_tokens, output_tokens, read, write, reasoning)
    resolution = _resolution(model)
    if resolution is None:
        if model and model.strip():
            _warn_unpriced(model)
        return PricedCost(_ZERO, None, None)
    pricing = resolution.pricing
    cost = pricing.cost(
        input_tokens, output_tokens, at, cache_read_tokens=read, cache_write_tokens=write
    )
    return PricedCost(
        cost.quantize(_MICRO_USD, rounding=ROUND_HALF_UP),
        resolution.version,
        pricing.effective_date(at),
    )


def recorded_cost(
    model: str | None,
    input_tokens: int,
    output_tokens: int,
    *,
    cache_read_tokens: int | None = 0,
    cache_write_tokens: int | None = 0,
    reasoning_tokens: int | None = 0,
    at: datetime | None = None,
) -> PricedCost:
    """`priced_cost` for a run being recorded: a price file that cannot be read (a typo in it)
    prices nothing, with one warning per problem, rather than cost the agent its answer and the
    run its record. Bad token counts still raise."""
    try:
        return priced_cost(
            model, input_tokens, output_tokens,
            cache_read_tokens=cache_read_tokens, cache_write_tokens=cache_write_tokens,
            reasoning_tokens=reasoning_tokens, at=at,
        )  # fmt: skip
    except PricingError as error:
        if str(error) not in _unreadable:
            _unreadable.add(str(error))
            warnings.warn(
                f"{error}; runs are recorded unpriced (cost 0) until it is mended: "
                "`aa-notebooks reprice` prices them afterwards",
                UserWarning,
                stacklevel=3,
            )
        return PricedCost(_ZERO, None, None)


_unreadable: set[str] = set()


def _check_token_parts(
    input_tokens: int, output_tokens: int, cache_read: int, cache_write: int, reasoning: int
) -> None:
    """The cached tokens are part of the input and the reasoning tokens part of the output."""
    if cache_read + cache_write > input_tokens:
        raise InvalidInputError(
            f"cache_read_tokens + cache_write_tokens ({cache_read} + {cache_write}) exceed "
            f"input_tokens ({input_tokens}): input_tokens must include the cached tokens"
        )
    if reasoning > output_tokens:
        raise InvalidInputError(
            f"reasoning_tokens ({reasoning}) exceed output_tokens ({output_tokens}): "
            "output_tokens must include the reasoning tokens"
        )


def price_source(model: str | None, *, at: datetime | None = None) -> PriceSource | None:
    """Where the price of `model` comes from and its rates at `at`; None when it is unpriced."""
    resolution = _resolution(model)
    return resolution.describe(at) if resolution else None


def is_priced(model: str | None) -> bool:
    """Whether `model` has a price (user file or genai-prices); unpriced models cost 0."""
    return _resolution(model) is not None


def set_price_file(path: str | os.PathLike[str] | None) -> None:
    """Use this price file instead of $AA_PRICING_FILE (None: the variable again); validated now."""
    choose_price_file(os.fspath(path) if path is not None else None)


def reset_pricing_cache() -> None:
    """Forget resolved names, loaded price files and warnings given; for tests and edited files."""
    clear_caches()
    _warned.clear()


def _resolution(model: str | None) -> Resolution | None:
    """The cached resolution of `model`; None/blank names are unpriced."""
    return resolve(model) if model else None


def _warn_unpriced(model: str) -> None:
    """Warn the first time an unpriced model is seen in this process."""
    if model in _warned:
        return
    _warned.add(model)
    warnings.warn(
        f"no price known for model {model!r}; its cost is recorded as 0. Add it to the price "
        f"file (${ENV_PRICING_FILE}) to price it",
        UnpricedModelWarning,
        stacklevel=3,
    )
