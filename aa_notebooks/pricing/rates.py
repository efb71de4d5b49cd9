"""Flat per-million token rates and the arithmetic of the fast path."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per million input and output tokens that do not change with time or volume, and for
    input tokens read from or written to the provider's prompt cache (None: the input rate)."""

    input_per_million: Decimal
    output_per_million: Decimal
    cache_read_per_million: Decimal | None = None
    cache_write_per_million: Decimal | None = None

    def cost(
        self,
        input_tokens: int,
        output_tokens: int,
        at: datetime | None = None,
        *,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> Decimal:
        """Unrounded USD for the tokens; `input_tokens` includes the cached ones (as in the
        OpenTelemetry GenAI conventions and genai-prices). `at` is accepted and ignored."""
        if not cache_read_tokens and not cache_write_tokens:  # the common, fastest case
            return (
                input_tokens * self.input_per_million + output_tokens * self.output_per_million
            ) / MILLION
        read = self.cache_read_per_million
        write = self.cache_write_per_million
        uncached = input_tokens - cache_read_tokens - cache_write_tokens
        return (
            uncached * self.input_per_million
            + cache_read_tokens * (self.input_per_million if read is None else read)
            + cache_write_tokens * (self.input_per_million if write is None else write)
            + output_tokens * self.output_per_million
        ) / MILLION

    def rates_at(self, at: datetime | None = None) -> Rates:
        """These rates, whatever the time."""
        return self
