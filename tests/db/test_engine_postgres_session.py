"""The kit's PostgreSQL sessions, sync and async, run in UTC whatever the database's own time
zone."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from aa_notebooks.db.engine import dispose_engine, get_async_engine, get_engine
from tests.conftest import drop_postgres_database, new_postgres_database

pytestmark = pytest.mark.postgres


@pytest.fixture
def new_york_url() -> Iterator[str]:
    """An empty database whose time zone is America/New_York."""
    url, name = new_postgres_database()
    admin = create_engine(make_url(url).set(drivername="postgresql+psycopg"),
                          isolation_level="AUTOCOMMIT")  # fmt: skip
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(
                f"ALTER DATABASE \"{name}\" SET timezone TO 'America/New_York'"
            )
    finally:
        admin.dispose()
    yield url
    dispose_engine(url)
    drop_postgres_database(url, name)


def test_sync_and_async_sessions_run_in_utc(new_york_url: str) -> None:
    """An AgentOS database with TIMESTAMPTZ columns in New York time had the kit's UTC bounds
    and the async recording functions' UTC times read in New York time."""
    with get_engine(new_york_url).connect() as connection:
        assert connection.execute(text("SHOW timezone")).scalar() == "UTC"

    async def async_zone() -> str:
        engine = get_async_engine(new_york_url)
        try:
            async with engine.connect() as connection:
                return str((await connection.execute(text("SHOW timezone"))).scalar())
        finally:
            await engine.dispose()

    assert asyncio.run(async_zone()) == "UTC"
