"""The API over the hand-made dataset, at the dataset's fixed now, through its ASGI app.

`app` takes ADMIN_TOKEN (as AA_API_TOKEN would give it) and `client` sends it; `token_app`
knows only the tokens stored in its database (`tokens`); `scoped_app` authenticates as a host
app would, from the X-User header.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Header

from aa_notebooks.api import Principal, create_app
from aa_notebooks.api.tokens import create_token, revoke_token
from tests.api import dataset

try:
    from fastapi.routing import iter_route_contexts
except ImportError:  # FastAPI before 0.16x lists the included routers' routes in app.routes

    def iter_route_contexts(routes: Any) -> Any:
        return iter(routes)


ADMIN_TOKEN = "admin-token-of-the-tests-0123456789"
SOME_ID = "00000000-0000-4000-8000-000000000042"


def every_request(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) for every route of the app, its path parameters filled with an id."""
    routes = list(iter_route_contexts(app.routes))
    assert all(route.path and route.methods for route in routes)  # none escapes the list
    return [
        (method, route.path.replace("{id}", SOME_ID))
        for route in routes
        for method in sorted(route.methods)
    ]


def bearer(token: str) -> dict[str, str]:
    """The header that presents a token."""
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Tokens:
    """Tokens stored in the test database: an admin's, one per user, and a revoked admin one."""

    admin: str
    u1: str
    u2: str
    revoked: str


@pytest.fixture
def loaded_url(db_url: str) -> str:
    """A database (SQLite or PostgreSQL) holding the dataset."""
    dataset.load(db_url)
    return db_url


@pytest.fixture
def app(loaded_url: str) -> FastAPI:
    """The API with one admin token, ADMIN_TOKEN."""
    return create_app(loaded_url, api_token=ADMIN_TOKEN, now=lambda: dataset.NOW)


@pytest.fixture
def tokens(loaded_url: str) -> Tokens:
    """Stored tokens: admin, U1, U2, and an admin token that was revoked."""
    made = {
        "admin": create_token(loaded_url, Principal.administrator(), name="ops"),
        "u1": create_token(loaded_url, Principal.of_user(dataset.U1)),
        "u2": create_token(loaded_url, Principal.of_user(dataset.U2)),
        "revoked": create_token(loaded_url, Principal.administrator(), name="old"),
    }
    revoke_token(loaded_url, made["revoked"].id)
    return Tokens(**{who: new.token for who, new in made.items()})


@pytest.fixture
def token_app(loaded_url: str, tokens: Tokens) -> FastAPI:
    """The API authenticating with the stored tokens only."""
    return create_app(loaded_url, now=lambda: dataset.NOW)


def user_from_header(x_user: str | None = Header(default=None)) -> str | None:
    """A stand-in for an app's authentication: the user named by the X-User header."""
    return x_user


@pytest.fixture
def scoped_app(loaded_url: str) -> FastAPI:
    """The API scoped to the user each request names."""
    return create_app(loaded_url, user_dependency=user_from_header, now=lambda: dataset.NOW)


async def http_client(
    app: FastAPI, headers: dict[str, str] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the app through ASGI, sending `headers` with every request."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://api", headers=headers
    ) as http:
        yield http


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the API presenting the admin token."""
    async for http in http_client(app, bearer(ADMIN_TOKEN)):
        yield http


@pytest.fixture
async def token_client(token_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of `token_app` presenting no token (each test sends its own)."""
    async for http in http_client(token_app):
        yield http


@pytest.fixture
async def scoped_client(scoped_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the user-scoped API."""
    async for http in http_client(scoped_app):
        yield http
