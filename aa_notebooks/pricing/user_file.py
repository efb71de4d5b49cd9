"""The user price file: TOML tables that add or override per-model prices, strictly validated."""

from __future__ import annotations

import json
import math
import os
import tomllib
from decimal import Decimal

from aa_notebooks.errors import PricingError
from aa_notebooks.pricing.source import PriceSource

PRICE_KEYS = ("input_per_million", "output_per_million")
CACHE_KEYS = ("cache_read_per_million", "cache_write_per_million")
"""Optional: the rates of input tokens read from / written to the prompt cache."""


def load_price_file(path: str | os.PathLike[str]) -> dict[str, PriceSource]:
    """Read and validate a price file; keys are the lower-cased model names, for matching."""
    where = f"pricing file {os.fspath(path)}"
    try:
        with open(path, "rb") as file:
            document = tomllib.load(file)
    except FileNotFoundError:
        raise PricingError(f"{where}: no such file") from None
    except OSError as exc:
        raise PricingError(f"{where}: cannot read it ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise PricingError(f"{where}: invalid TOML ({exc})") from None
    unknown = sorted(document.keys() - {"models"})
    if unknown:
        raise PricingError(
            f'{where}: unknown top-level key {unknown[0]!r}; use only [models."<name>"] tables'
        )
    models = document.get("models", {})
    if not isinstance(models, dict):
        raise PricingError(f'{where}: models must be tables like [models."<name>"]')
    entries: dict[str, PriceSource] = {}
    for name, table in models.items():
        entry = _entry(name, table, f"{where}: models.{json.dumps(name, ensure_ascii=False)}")
        key = name.strip().lower()
        if key in entries:
            clash = entries[key].matched_name
            raise PricingError(f"{where}: models {clash!r} and {name!r} are the same model")
        entries[key] = entry
    return entries


def _entry(name: str, table: object, where: str) -> PriceSource:
    """One [models."name"] table as a PriceSource; PricingError naming the entry otherwise."""
    if not name.strip():
        raise PricingError(f"{where}: the model name is empty")
    if not isinstance(table, dict):
        raise PricingError(f"{where}: expected a table with {' and '.join(PRICE_KEYS)}")
    unknown = sorted(table.keys() - {*PRICE_KEYS, *CACHE_KEYS})
    if unknown:
        allowed = ", ".join((*PRICE_KEYS, *CACHE_KEYS))
        raise PricingError(f"{where}: unknown key {unknown[0]!r}; allowed: {allowed}")
    missing = [key for key in PRICE_KEYS if key not in table]
    if missing:
        raise PricingError(f"{where}: missing {missing[0]}")
    input_rate, output_rate = (_rate(table[key], key, where) for key in PRICE_KEYS)
    read, write = (_rate(table[key], key, where) if key in table else None for key in CACHE_KEYS)
    return PriceSource("user-file", name, input_rate, output_rate, None, read, write)


def _rate(value: object, key: str, where: str) -> Decimal:
    """A per-million price: an int or float, finite and not negative."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise PricingError(f"{where}: {key} must be a non-negative number, got {value!r}")
    return Decimal(str(value))
