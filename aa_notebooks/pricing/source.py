"""PriceSource: where a model's price comes from, so reports can flag overrides and gaps."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal


@dataclass(frozen=True, slots=True)
class PriceSource:
    """The origin and per-million USD rates of a model's price (base rates if tiered); the
    cache rates are None where cached input tokens cost the input rate."""

    source: Literal["user-file", "genai-prices"]
    matched_name: str
    input_per_million: Decimal
    output_per_million: Decimal
    provider: str | None = None
    cache_read_per_million: Decimal | None = None
    cache_write_per_million: Decimal | None = None
