"""Which price applies to a model name: the user file first, then genai-prices; cached per name.

A user entry applies to every name genai-prices resolves to that model (`gpt-4o-2024-08-06` and
`azure/gpt-4o-2024-08-06` take an entry for `gpt-4o`), unless the file names that one too; a
reseller's model of its own (OpenRouter's `openai/gpt-4o`) keeps the reseller's price. The
file is read again when it changes (`_stamp`, looked at once a second at most), so an edit
prices the runs that start after it without a restart."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from importlib.metadata import version
from typing import Literal

from aa_notebooks.errors import PricingError
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
        load_price_file(path)
    _chosen_file = path


def active_price_file() -> str | None:
    """The price file in force: the chosen one, else $AA_PRICING_FILE, else none."""
    return _chosen_file or os.environ.get(ENV_PRICING_FILE) or None


def resolve(name: str) -> Resolution | None:
    """The price of model `name` under the active price file; None when nothing prices it."""
    price_file = active_price_file()
    if price_file is None:
        return _resolve(name, None, None)
    stamp = _stamp(price_file)
    if stamp is None:  # cannot be looked at: read it now (it says why), cache nothing
        return _resolve.__wrapped__(name, price_file, None)
    return _resolve(name, price_file, stamp)


Stamp = tuple[int, int, int, int]


def _stamp(path: str) -> Stamp | None:
    """What changes when the file does: its inode, size, modification and change times
    (the change time too, as `cp -p` and `touch -r` set the modification time back); looked
    at once a second at most. None when it cannot be looked at."""
    global _looked
    now = time.monotonic()
    looked = _looked  # once: another thread may clear it meanwhile
    if looked is not None and looked[0] == path and now - looked[1] < RECHECK_S:
        return looked[2]
    try:
        found = os.stat(path)
        stamp: Stamp | None = (found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns)
    except OSError:
        stamp = None
    _looked = (path, now, stamp)
    return stamp


SOURCE_LENGTH = 64
"""The width of `tokenusages.price_source`, which PostgreSQL enforces."""
_FILE_PREFIX = "price file "


def file_label(path: str) -> str:
    """The price source a file's prices record: "price file NAME", a long name shortened in
    its middle to fit the column (a longer one would have PostgreSQL refuse every priced run)."""
    name = os.path.basename(path)
    room = SOURCE_LENGTH - len(_FILE_PREFIX)
    if len(name) > room:
        tail = (room - 1) // 2
        name = f"{name[: room - 1 - tail]}…{name[len(name) - tail :]}"
    return _FILE_PREFIX + name


RECHECK_S = 1.0
"""How often, at most, the price file is looked at for a change."""
_looked: tuple[str, float, Stamp | None] | None = None


def clear_caches() -> None:
    """Forget resolved names and loaded price files, e.g. after editing the file."""
    global _looked
    _resolve.cache_clear()
    _loaded.cache_clear()
    _looked = None


@lru_cache(maxsize=4096)
def _resolve(name: str, price_file: str | None, stamp: Stamp | None) -> Resolution | None:
    """Resolve once per (name, price file as it is): user entries win over genai-prices for
    every lookup, and for the model genai-prices finds."""
    candidates = lookups(name)
    user_prices = _user_prices(price_file, stamp) if price_file is not None else {}
    label = file_label(price_file or "")
    for _, ref in candidates:
        if entry := user_prices.get(ref):
            return Resolution("user-file", entry.matched_name, None, entry.pricing, label)
    for provider_id, ref in candidates:
        if found := find_model(provider_id, ref):
            provider, model = found
            if entry := user_prices.get(model.id.lower()):
                return Resolution("user-file", entry.matched_name, None, entry.pricing, label)
            package = f"genai-prices {version('genai-prices')}"
            return Resolution("genai-prices", model.id, provider, pricing_for(model), package)
    return None


def _user_prices(path: str, stamp: Stamp | None) -> dict[str, UserPrice]:
    """The validated price file, read once per `stamp` (`_stamp`) until the caches are
    cleared; a file that fails to load fails again, unread, until it changes (an agent pricing
    every call against a file with a typo read and parsed it every time). A file that could not
    be looked at (no stamp) is read every time, never kept."""
    if stamp is None:
        return load_price_file(path)
    loaded = _loaded(path, stamp)
    if isinstance(loaded, PricingError):
        raise PricingError(str(loaded)) from None  # a new one: a raised error keeps its frames
    return loaded


@lru_cache(maxsize=8)
def _loaded(path: str, stamp: Stamp | None) -> dict[str, UserPrice] | PricingError:
    try:
        return load_price_file(path)
    except PricingError as error:
        return error
