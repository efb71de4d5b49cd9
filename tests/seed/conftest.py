"""A database seeded with the default demo data at a fixed `now`, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aa_notebooks.seed import SeedReport, seed_database

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def seeded(db_url: str) -> tuple[str, SeedReport]:
    """The database URL and the report of seeding it with the defaults."""
    return db_url, seed_database(db_url, now=NOW)
