"""PriceSource: where a model's price comes from, so reports can flag overrides and gaps."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal


@dataclass(frozen=True, slots=True)
class PriceSource:
    """The origin and per-million USD rates of a model's price (base rates if tiered)."""

    source: Literal["user-file", "genai-prices"]
    matched_name: str
    input_per_million: Decimal
    output_per_million: Decimal
    provider: str | None = None
