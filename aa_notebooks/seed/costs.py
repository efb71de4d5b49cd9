"""Usage costs in whole micro-dollars: exactly what `calculate_cost` gives, in a tenth of the time.

A million executions need about 3.2 million prices. Where a model's price is flat over the token
counts the seed draws, its cost in micro-USD is `input * a + output * b` rounded half up, a and b
being its per-million rates (`price_source`): integer arithmetic on them is ten times faster than
`calculate_cost`'s Decimals. Each model's rates are first checked against `calculate_cost` at the
corners of the drawn ranges and beyond; a model they do not reproduce (a tier, a per-call fee) is
priced by `calculate_cost` itself, call by call.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from aa_notebooks.pricing import calculate_cost, price_source

MAX_TOKENS = 20_000
"""More than any token count the generator draws for one call."""
PROBES = (
    (0, 0), (1, 0), (0, 1), (3, 7), (999, 1_001), (12_345, 678),
    (MAX_TOKENS, 0), (0, MAX_TOKENS), (MAX_TOKENS, MAX_TOKENS),
)  # fmt: skip

Rates = tuple[int, int, int]
"""Input and output rate in micro-USD per token, both times the scale, and the scale."""


class Pricer:
    """Prices calls of the given models at the prices in force at `at`."""

    def __init__(self, models: Iterable[str], at: datetime) -> None:
        self._at = at
        self._rates = {model: _checked_rates(model, at) for model in models}

    def micros(self, model: str, input_tokens: int, output_tokens: int) -> int:
        """calculate_cost(model, input_tokens, output_tokens, at=at) in micro-USD (0 unpriced)."""
        rates = self._rates[model]
        if rates is None:
            return _micros(calculate_cost(model, input_tokens, output_tokens, at=self._at))
        return _apply(rates, input_tokens, output_tokens)


def _checked_rates(model: str, at: datetime) -> Rates | None:
    """The model's integer rates if they reproduce calculate_cost at every probe, else None.

    Unpriced models get zero rates, without calculate_cost's warning: they are unpriced on purpose.
    """
    source = price_source(model, at=at)
    if source is None:
        return (0, 0, 1)
    per_million = (source.input_per_million, source.output_per_million)
    places = max(0, *(-int(rate.as_tuple().exponent) for rate in per_million))  # rates are finite
    scale = 10**places
    rates = (int(per_million[0] * scale), int(per_million[1] * scale), scale)
    exact = all(
        _apply(rates, i, o) == _micros(calculate_cost(model, i, o, at=at)) for i, o in PROBES
    )
    return rates if exact else None


def _apply(rates: Rates, input_tokens: int, output_tokens: int) -> int:
    """Micro-USD, rounded half up as calculate_cost rounds."""
    per_input, per_output, scale = rates
    return (input_tokens * per_input + output_tokens * per_output + scale // 2) // scale


def _micros(cost: Decimal) -> int:
    return int(cost.scaleb(6))
