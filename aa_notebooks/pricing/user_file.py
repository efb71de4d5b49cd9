"""The user price file: TOML tables that add or override per-model prices, strictly validated.

A model's table holds its rates; prices that changed go in dated sub-tables, each in force from
its UTC date until the next (`[models."x".prices."2026-03-01"]`), with the undated rates (if
any) before the first date.
"""

from __future__ import annotations

import json
import math
import os
import tomllib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from aa_notebooks.errors import PricingError
from aa_notebooks.pricing.rates import DatedRates, Rates

PRICE_KEYS = ("input_per_million", "output_per_million")
CACHE_KEYS = ("cache_read_per_million", "cache_write_per_million")
"""Optional: the rates of input tokens read from / written to the prompt cache."""
DATED_KEY = "prices"


@dataclass(frozen=True, slots=True)
class UserPrice:
    """One model's entry in a price file: its name as written and its (possibly dated) rates."""

    matched_name: str
    pricing: Rates | DatedRates


def load_price_file(path: str | os.PathLike[str]) -> dict[str, UserPrice]:
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
        raise PricingError(
            f'{where}: invalid TOML ({exc}); a price file is TOML, e.g. [models."my-model"] '
            "then input_per_million = 1.5 and output_per_million = 6 on lines of their own"
        ) from None
    except UnicodeDecodeError:
        raise PricingError(
            f"{where}: not UTF-8 text, which TOML must be (PowerShell's `>` writes UTF-16: "
            "save it as UTF-8)"
        ) from None
    unknown = sorted(document.keys() - {"models"})
    if unknown:
        raise PricingError(
            f'{where}: unknown top-level key {unknown[0]!r}; use only [models."<name>"] tables'
        )
    models = document.get("models", {})
    if not isinstance(models, dict):
        raise PricingError(f'{where}: models must be tables like [models."<name>"]')
    entries: dict[str, UserPrice] = {}
    for name, table in models.items():
        entry = _entry(name, table, f"{where}: models.{json.dumps(name, ensure_ascii=False)}")
        key = name.strip().lower()
        if key in entries:
            clash = entries[key].matched_name
            raise PricingError(f"{where}: models {clash!r} and {name!r} are the same model")
        entries[key] = entry
    return entries


def _entry(name: str, table: object, where: str) -> UserPrice:
    """One [models."name"] table; PricingError naming the entry and the key otherwise."""
    if not name.strip():
        raise PricingError(f"{where}: the model name is empty")
    if not isinstance(table, dict):
        raise PricingError(f"{where}: expected a table with {' and '.join(PRICE_KEYS)}")
    dated = table.get(DATED_KEY, {})
    if not isinstance(dated, dict):
        raise PricingError(f'{where}: prices must be tables like [models."x".prices."2026-03-01"]')
    undated = {key: value for key, value in table.items() if key != DATED_KEY}
    if not dated:
        return UserPrice(name, _rates(undated, where, DATED_KEY))
    versions: list[tuple[date | None, Rates]] = []
    if undated:
        versions.append((None, _rates(undated, where)))
    for day, rates in sorted(_dated(dated, where).items()):
        versions.append((day, rates))
    return UserPrice(name, DatedRates(tuple(versions)))


def _dated(tables: dict[str, Any], where: str) -> dict[date, Rates]:
    """The dated prices of one model, by their start date."""
    found = {}
    for key, table in tables.items():
        here = f"{where}.prices.{json.dumps(key)}"
        try:
            day = date.fromisoformat(str(key))
        except ValueError:
            raise PricingError(f"{here}: expected a date like 2026-03-01 as the key") from None
        if not isinstance(table, dict):
            raise PricingError(f"{here}: expected a table with {' and '.join(PRICE_KEYS)}")
        found[day] = _rates(table, here)
    return found


def _rates(table: dict[str, Any], where: str, *also: str) -> Rates:
    """The rates of one price table; `also` names keys allowed besides the rates."""
    unknown = sorted(table.keys() - {*PRICE_KEYS, *CACHE_KEYS})
    if unknown:
        allowed = ", ".join((*PRICE_KEYS, *CACHE_KEYS, *also))
        raise PricingError(f"{where}: unknown key {unknown[0]!r}; allowed: {allowed}")
    missing = [key for key in PRICE_KEYS if key not in table]
    if missing:
        raise PricingError(f"{where}: missing {missing[0]}")
    input_rate, output_rate = (_rate(table[key], key, where) for key in PRICE_KEYS)
    read, write = (_rate(table[key], key, where) if key in table else None for key in CACHE_KEYS)
    return Rates(input_rate, output_rate, read, write)


MAX_RATE = 1_000_000
"""The highest per-million price taken: a dollar a token. Above it is a typo (a rate per token
written per million, an exponent), and a rate of 1e300 made every run's cost overflow."""


def _rate(value: object, key: str, where: str) -> Decimal:
    """A per-million price: an int or float from 0 to MAX_RATE."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value <= MAX_RATE
    ):
        raise PricingError(
            f"{where}: {key} must be a number of dollars per million tokens from 0 to "
            f"{MAX_RATE:,}, got {value!r}"
        )
    return Decimal(str(value))
