"""Adapter to genai-prices' bundled data: match a model once, then price tokens cheaply."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from genai_prices import Usage, calc_price
from genai_prices.types import ModelInfo, ModelPrice, StartDateConstraint, TieredPrices

from aa_notebooks.pricing.rates import Rates


@dataclass(frozen=True, slots=True)
class PriceVersion:
    """One genai-prices price of a model, with flat rates that reproduce it up to `exact_up_to`."""

    price: ModelPrice
    rates: Rates
    # Input tokens up to which `rates` alone match the package: the first tier's start, inf when
    # untiered, -1 (never) when the price has a per-request fee.
    exact_up_to: float
    starts: date | None = None
    """The day this price took effect, when genai-prices dates it."""


@dataclass(frozen=True, slots=True)
class PackageModel:
    """A genai-prices model whose price depends on the date, the time of day or the input size."""

    model: ModelInfo
    versions: tuple[PriceVersion, ...]

    def cost(
        self,
        input_tokens: int,
        output_tokens: int,
        at: datetime | None = None,
        *,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> Decimal:
        """Unrounded USD; genai-prices computes it whenever a tier or a fee is involved."""
        version = self._version_at(at)
        if input_tokens <= version.exact_up_to:
            return version.rates.cost(
                input_tokens,
                output_tokens,
                cache_read_tokens=cache_read_tokens,
                cache_write_tokens=cache_write_tokens,
            )
        usage = Usage(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read_tokens=cache_read_tokens,
            cache_write_tokens=cache_write_tokens,
        )
        return version.price.calc_price(usage)["total_price"]

    def rates_at(self, at: datetime | None = None) -> Rates:
        """The base per-million rates in force at `at` (now when None)."""
        return self._version_at(at).rates

    def effective_date(self, at: datetime | None = None) -> date | None:
        """The day the price in force at `at` took effect, when genai-prices dates it."""
        return self._version_at(at).starts

    def _version_at(self, at: datetime | None) -> PriceVersion:
        """The price genai-prices applies at `at`; naive datetimes are UTC, as in genai-prices."""
        if len(self.versions) == 1:
            return self.versions[0]
        price = self.model.get_prices(at or datetime.now(UTC))
        # get_prices hands back one of the stored prices; digest afresh should that ever change.
        return next((v for v in self.versions if v.price is price), None) or _version(price)


def find_model(provider_id: str | None, model_ref: str) -> tuple[str, ModelInfo] | None:
    """The genai-prices provider id and model matching `model_ref`, or None when it has none."""
    try:
        found = calc_price(
            Usage(input_tokens=0, output_tokens=0), model_ref, provider_id=provider_id
        )
    except LookupError:
        return None
    return found.provider.id, found.model


def pricing_for(model: ModelInfo) -> Rates | PackageModel:
    """Plain rates when the model has one flat price (the common, fastest case), else the model."""
    if isinstance(model.prices, ModelPrice):
        versions: tuple[PriceVersion, ...] = (_version(model.prices),)
    else:
        versions = tuple(
            _version(conditional.prices, _start(conditional.constraint))
            for conditional in model.prices
        )
    if len(versions) == 1 and versions[0].exact_up_to == math.inf:
        return versions[0].rates
    return PackageModel(model, versions)


def _start(constraint: object) -> date | None:
    """The start date of a conditional price, when it has one."""
    return constraint.start_date if isinstance(constraint, StartDateConstraint) else None


def _version(price: ModelPrice, starts: date | None = None) -> PriceVersion:
    """Digest one ModelPrice: its base rates and how far they are exact."""
    input_price, output_price = price.input_mtok, price.output_mtok
    tiers = [p.tiers for p in (input_price, output_price) if isinstance(p, TieredPrices)]
    first_tier = min((tier.start for group in tiers for tier in group), default=math.inf)
    exact_up_to = -1 if price.requests_kcount is not None else first_tier
    rates = Rates(
        _base(input_price),
        _base(output_price),
        _cache_rate(price.cache_read_mtok),
        _cache_rate(price.cache_write_mtok),
    )
    return PriceVersion(price, rates, exact_up_to, starts)


def _cache_rate(price: Decimal | TieredPrices | None) -> Decimal | None:
    """A cache read/write rate below any tier; None when the model has none (the input rate)."""
    return None if price is None else _base(price)


def _base(price: Decimal | TieredPrices | None) -> Decimal:
    """The per-million rate below any tier; zero when the model does not price that direction."""
    if isinstance(price, TieredPrices):
        return price.base
    return price if price is not None else Decimal(0)
