"""Flat per-million token rates and the arithmetic of the fast path; rates that change on dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
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

    def effective_date(self, at: datetime | None = None) -> date | None:
        """The day these rates took effect: unknown (they always apply)."""
        return None


@dataclass(frozen=True, slots=True)
class DatedRates:
    """Flat rates that change on given UTC dates (a price file's dated prices).

    Each price applies from its date until the next one's; before the first date, the undated
    price (None as its date) if there is one, else the earliest dated price."""

    versions: tuple[tuple[date | None, Rates], ...]
    """(start date, rates), the undated one first, then by date."""

    def cost(
        self,
        input_tokens: int,
        output_tokens: int,
        at: datetime | None = None,
        *,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> Decimal:
        """Unrounded USD at the rates in force at `at` (now when None)."""
        return self.rates_at(at).cost(
            input_tokens,
            output_tokens,
            cache_read_tokens=cache_read_tokens,
            cache_write_tokens=cache_write_tokens,
        )

    def rates_at(self, at: datetime | None = None) -> Rates:
        """The rates in force at `at` (now when None; naive times are UTC)."""
        return self._version_at(at)[1]

    def effective_date(self, at: datetime | None = None) -> date | None:
        """The date the price in force at `at` took effect; None for the undated price."""
        return self._version_at(at)[0]

    def _version_at(self, at: datetime | None) -> tuple[date | None, Rates]:
        day = utc_day(at)
        chosen = self.versions[0]
        for start, rates in self.versions:
            if start is None or start <= day:
                chosen = (start, rates)
        return chosen


def utc_day(at: datetime | None) -> date:
    """The UTC date of `at` (now when None; naive times are UTC), as genai-prices dates prices."""
    if at is None:
        return datetime.now(UTC).date()
    return at.astimezone(UTC).date() if at.tzinfo is not None else at.date()
