"""Where a model's price comes from, so reports can flag overrides and gaps and stored costs can
say which price made them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal


@dataclass(frozen=True, slots=True)
class PriceSource:
    """The origin and per-million USD rates of a model's price (base rates if tiered); the
    cache rates are None where cached input tokens cost the input rate. `version` names the
    price table ("genai-prices 0.2.3", "price file prices.toml") and `effective_from` the day the
    price took effect (None when the table does not date it)."""

    source: Literal["user-file", "genai-prices"]
    matched_name: str
    input_per_million: Decimal
    output_per_million: Decimal
    provider: str | None = None
    cache_read_per_million: Decimal | None = None
    cache_write_per_million: Decimal | None = None
    version: str | None = None
    effective_from: date | None = None


@dataclass(frozen=True, slots=True)
class PricedCost:
    """A call's cost with its provenance, as token usage rows store it: `source` is the price
    table's version (None when the model is unpriced and the cost 0), `price_date` the day the
    price took effect (None when the table does not date it)."""

    cost_usd: Decimal
    source: str | None
    price_date: date | None

    def provenance(self) -> dict[str, str | None]:
        """The token usage columns that record which price this was."""
        day = None if self.price_date is None else self.price_date.isoformat()
        return {"price_source": self.source, "price_date": day}
