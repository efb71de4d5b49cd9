"""The API over the hand-made dataset, at the dataset's fixed now, through its ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Header

from aa_notebooks.api import create_app
from tests.api import dataset


@pytest.fixture
def loaded_url(db_url: str) -> str:
    """A database (SQLite or PostgreSQL) holding the dataset."""
    dataset.load(db_url)
    return db_url


@pytest.fixture
def app(loaded_url: str) -> FastAPI:
    """The API over every user's data."""
    return create_app(loaded_url, now=lambda: dataset.NOW)


def user_from_header(x_user: str | None = Header(default=None)) -> str | None:
    """A stand-in for an app's authentication: the user named by the X-User header."""
    return x_user


@pytest.fixture
def scoped_app(loaded_url: str) -> FastAPI:
    """The API scoped to the user each request names."""
    return create_app(loaded_url, user_dependency=user_from_header, now=lambda: dataset.NOW)


async def _client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        yield http


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the unscoped API."""
    async for http in _client(app):
        yield http


@pytest.fixture
async def scoped_client(scoped_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the user-scoped API."""
    async for http in _client(scoped_app):
        yield http
