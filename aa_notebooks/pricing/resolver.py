"""Which price applies to a model name: the user file first, then genai-prices; cached per name."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from importlib.metadata import version
from typing import Literal

from aa_notebooks.pricing.names import lookups
from aa_notebooks.pricing.package import PackageModel, find_model, pricing_for
from aa_notebooks.pricing.rates import DatedRates, Rates
from aa_notebooks.pricing.source import PriceSource
from aa_notebooks.pricing.user_file import UserPrice, load_price_file

ENV_PRICING_FILE = "AA_PRICING_FILE"

_chosen_file: str | None = None


@dataclass(frozen=True, slots=True)
class Resolution:
    """A priced model: where its price comes from and how to compute it."""

    source: Literal["user-file", "genai-prices"]
    matched_name: str
    provider: str | None
    pricing: Rates | PackageModel | DatedRates
    version: str
    """The price table: "genai-prices 0.2.3" or "price file NAME"."""

    def describe(self, at: datetime | None = None) -> PriceSource:
        """The public view of this resolution, with the rates in force at `at` (now when None)."""
        rates = self.pricing.rates_at(at)
        return PriceSource(
            self.source,
            self.matched_name,
            rates.input_per_million,
            rates.output_per_million,
            self.provider,
            rates.cache_read_per_million,
            rates.cache_write_per_million,
            self.version,
            self.pricing.effective_date(at),
        )


def choose_price_file(path: str | None) -> None:
    """Use `path` instead of $AA_PRICING_FILE (None: back to the variable), validating it first."""
    global _chosen_file
    clear_caches()
    if path is not None:
        _user_prices(path)
    _chosen_file = path


def active_price_file() -> str | None:
    """The price file in force: the chosen one, else $AA_PRICING_FILE, else none."""
    return _chosen_file or os.environ.get(ENV_PRICING_FILE) or None


def resolve(name: str) -> Resolution | None:
    """The price of model `name` under the active price file; None when nothing prices it."""
    return _resolve(name, active_price_file())


def clear_caches() -> None:
    """Forget resolved names and loaded price files, e.g. after editing the file."""
    _resolve.cache_clear()
    _user_prices.cache_clear()


@lru_cache(maxsize=4096)
def _resolve(name: str, price_file: str | None) -> Resolution | None:
    """Resolve once per (name, price file): user entries win over genai-prices for every lookup."""
    candidates = lookups(name)
    user_prices = _user_prices(price_file) if price_file else {}
    for _, ref in candidates:
        if entry := user_prices.get(ref):
            label = f"price file {os.path.basename(price_file or '')}"
            return Resolution("user-file", entry.matched_name, None, entry.pricing, label)
    for provider_id, ref in candidates:
        if found := find_model(provider_id, ref):
            provider, model = found
            label = f"genai-prices {version('genai-prices')}"
            return Resolution("genai-prices", model.id, provider, pricing_for(model), label)
    return None


@lru_cache(maxsize=8)
def _user_prices(path: str) -> dict[str, UserPrice]:
    """The validated price file, read once until the caches are cleared."""
    return load_price_file(path)
