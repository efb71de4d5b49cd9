"""Money as Decimal: cents as budgetalerts stores them, micro-dollars as the ledger counts them."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
MICRO = Decimal("0.000001")


def cents(amount: Decimal) -> Decimal:
    """An amount rounded half up to cents, as the NUMERIC(10,2) columns of budgetalerts hold it."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def micro_dollars(amount: Decimal) -> Decimal:
    """An amount rounded half up to micro-dollars, as NUMERIC(10,6) cost_usd holds it."""
    return amount.quantize(MICRO, rounding=ROUND_HALF_UP)


def to_micros(cost: Decimal | float | int | str) -> int:
    """A cost in USD as whole micro-dollars (exact integers, also on SQLite)."""
    return int(micro_dollars(Decimal(str(cost))) / MICRO)


def from_micros(micros: int) -> Decimal:
    """Whole micro-dollars as USD with 6 decimals."""
    return Decimal(micros) * MICRO
