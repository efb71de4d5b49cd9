"""Fixtures: the hand-made dataset loaded into each database, and clients over it."""

from __future__ import annotations

import pytest

from aa_notebooks.analytics import Analytics, connect
from tests.analytics import dataset


@pytest.fixture
def loaded_url(db_url: str) -> str:
    """A database (SQLite or PostgreSQL) with the kit's schema holding the dataset."""
    dataset.load(db_url)
    return db_url


@pytest.fixture
def analytics(loaded_url: str) -> Analytics:
    """All users' analytics over the dataset, at the dataset's fixed now."""
    return connect(loaded_url, now=lambda: dataset.NOW)


@pytest.fixture
def analytics_u1(loaded_url: str) -> Analytics:
    """User U1's analytics over the dataset."""
    return connect(loaded_url, user_id=str(dataset.U1), now=lambda: dataset.NOW)
