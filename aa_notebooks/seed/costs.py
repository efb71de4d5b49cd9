"""Usage costs in whole micro-dollars: exactly what `calculate_cost` gives, in a tenth of the time.

A million executions need about 3.2 million prices. Where a model's price is flat over the token
counts the seed draws, its cost in micro-USD is `(input - cached) * a + cached * c + output * b`
rounded half up, a, b and c being its per-million input, output and cache read rates
(`price_source`): integer arithmetic on them is ten times faster than `calculate_cost`'s
Decimals. Each model's rates are first checked against `calculate_cost` at the corners of the
drawn ranges and beyond; a model they do not reproduce (a tier, a per-call fee) is priced by
`calculate_cost` itself, call by call. Each model's provenance (the price table's version and
the price's date) is looked up once, as usage rows record it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from aa_notebooks.pricing import calculate_cost, price_source

MAX_TOKENS = 20_000
"""More than any token count the generator draws for one call."""
PROBES = (
    (0, 0, 0), (1, 0, 0), (0, 1, 0), (3, 7, 0), (999, 1_001, 0), (12_345, 678, 0),
    (MAX_TOKENS, 0, 0), (0, MAX_TOKENS, 0), (MAX_TOKENS, MAX_TOKENS, 0), (1, 0, 1),
    (999, 3, 998), (12_345, 678, 4_321), (MAX_TOKENS, MAX_TOKENS, MAX_TOKENS),
)  # fmt: skip
"""(input, output, cache read) token counts the integer rates must price as calculate_cost."""

Rates = tuple[int, int, int, int]
"""Input, output and cache read rate in micro-USD per token, each times the scale; the scale."""
Provenance = tuple[str | None, str | None]
"""price_source, price_date: what a usage row records of the price that costed it."""


class Pricer:
    """Prices calls of the given models at the prices in force at `at`."""

    def __init__(self, models: Iterable[str], at: datetime) -> None:
        self._at = at
        self._rates = {model: _checked_rates(model, at) for model in models}
        self._provenance = {model: _provenance(model, at) for model in models}

    def micros(
        self, model: str, input_tokens: int, output_tokens: int, cache_read_tokens: int = 0
    ) -> int:
        """calculate_cost(model, input_tokens, output_tokens, cache_read_tokens=..., at=at) in
        micro-USD (0 unpriced)."""
        rates = self._rates[model]
        if rates is None:
            cost = calculate_cost(
                model, input_tokens, output_tokens, cache_read_tokens=cache_read_tokens, at=self._at
            )
            return _micros(cost)
        return _apply(rates, input_tokens, output_tokens, cache_read_tokens)

    def provenance(self, model: str) -> Provenance:
        """The price_source and price_date of the model's usage rows (None, None unpriced)."""
        return self._provenance[model]


def _checked_rates(model: str, at: datetime) -> Rates | None:
    """The model's integer rates if they reproduce calculate_cost at every probe, else None.

    Unpriced models get zero rates, without calculate_cost's warning: they are unpriced on purpose.
    """
    source = price_source(model, at=at)
    if source is None:
        return (0, 0, 0, 1)
    cache_read = source.cache_read_per_million
    per_million = (
        source.input_per_million,
        source.output_per_million,
        source.input_per_million if cache_read is None else cache_read,
    )
    places = max(0, *(-int(rate.as_tuple().exponent) for rate in per_million))  # rates are finite
    scale = 10**places
    rates = (*(int(rate * scale) for rate in per_million), scale)
    exact = all(
        _apply(rates, i, o, c) == _micros(calculate_cost(model, i, o, cache_read_tokens=c, at=at))
        for i, o, c in PROBES
    )
    return rates if exact else None


def _provenance(model: str, at: datetime) -> Provenance:
    """What `priced_cost` records for the model's calls at `at`."""
    source = price_source(model, at=at)
    if source is None:
        return None, None
    day = None if source.effective_from is None else source.effective_from.isoformat()
    return source.version, day


def _apply(rates: Rates, input_tokens: int, output_tokens: int, cache_read_tokens: int) -> int:
    """Micro-USD, rounded half up as calculate_cost rounds."""
    per_input, per_output, per_cache_read, scale = rates
    total = (
        (input_tokens - cache_read_tokens) * per_input
        + cache_read_tokens * per_cache_read
        + output_tokens * per_output
    )
    return (total + scale // 2) // scale


def _micros(cost: Decimal) -> int:
    return int(cost.scaleb(6))
