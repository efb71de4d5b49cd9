"""Pricing fixtures: a clean pricing state per test and a helper that writes price files."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aa_notebooks.pricing import reset_pricing_cache, set_price_file


@pytest.fixture(autouse=True)
def clean_pricing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No price file, no cached resolutions and no remembered warnings, before and after a test."""
    monkeypatch.delenv("AA_PRICING_FILE", raising=False)
    set_price_file(None)
    reset_pricing_cache()
    yield
    set_price_file(None)
    reset_pricing_cache()


@pytest.fixture
def write_price_file(tmp_path: Path) -> Callable[[str], Path]:
    """Write TOML text to a fresh file under tmp_path and return its path."""
    count = 0

    def write(text: str) -> Path:
        nonlocal count
        count += 1
        path = tmp_path / f"prices-{count}.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write
