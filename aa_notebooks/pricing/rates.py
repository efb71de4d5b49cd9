"""Flat per-million token rates and the arithmetic of the fast path."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per million input and output tokens that do not change with time or volume."""

    input_per_million: Decimal
    output_per_million: Decimal

    def cost(self, input_tokens: int, output_tokens: int, at: datetime | None = None) -> Decimal:
        """Unrounded USD for the tokens; `at` is accepted for symmetry and ignored."""
        return (
            input_tokens * self.input_per_million + output_tokens * self.output_per_million
        ) / MILLION

    def rates_at(self, at: datetime | None = None) -> Rates:
        """These rates, whatever the time."""
        return self
