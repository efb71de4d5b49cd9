"""Authentication on every route of the app, enumerated from `app.routes` (the API, its OpenAPI
schema and its docs page): no token, an unknown or a revoked token is 401 asking for a bearer
token; AA_API_TOKEN and stored tokens get in; without any way to authenticate, the app does not
start unless anonymity is allowed."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from aa_notebooks.api import create_app, create_router
from aa_notebooks.api.auth import ENV_API_TOKEN
from aa_notebooks.errors import ConfigurationError
from tests.api import dataset
from tests.api.conftest import ADMIN_TOKEN, Tokens, bearer, every_request, http_client

API = "/api/analytics"


def test_the_routes_include_the_schema_and_the_docs(app: FastAPI) -> None:
    paths = {path for _, path in every_request(app)}
    assert {"/openapi.json", "/docs", f"{API}/overview", f"{API}/budgets/status"} <= paths
    assert len(every_request(app)) == 16  # 12 of the document, budget status, schema, docs, OTLP


@pytest.mark.parametrize(
    "headers",
    [{}, bearer("aan_not-a-token-anyone-made"), bearer("wrong"), {"Authorization": "Basic eDp5"}],
    ids=["none", "unknown", "short", "basic"],
)
async def test_every_route_asks_for_a_token(
    token_app: FastAPI, token_client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    for method, path in every_request(token_app):
        response = await token_client.request(method, path, headers=headers)
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"] == "Bearer", (method, path)


async def test_a_revoked_token_is_refused(
    token_app: FastAPI, token_client: httpx.AsyncClient, tokens: Tokens
) -> None:
    for method, path in every_request(token_app):
        response = await token_client.request(method, path, headers=bearer(tokens.revoked))
        assert response.status_code == 401, (method, path)
    revoked = await token_client.get(f"{API}/overview", headers=bearer(tokens.revoked))
    assert revoked.json()["detail"] == "the token is unknown or revoked"


async def test_stored_tokens_get_in_as_admin_or_as_their_user(
    token_client: httpx.AsyncClient, tokens: Tokens
) -> None:
    admin = await token_client.get(f"{API}/overview", headers=bearer(tokens.admin))
    assert (admin.status_code, admin.json()["scope"], admin.json()["total_executions"]) == (
        200, "all users", 4,
    )  # fmt: skip
    first = (await token_client.get(f"{API}/overview", headers=bearer(tokens.u1))).json()
    assert (first["scope"], first["total_executions"], first["total_cost_usd"]) == (
        f"user {dataset.U1}", 2, "0.004620",
    )  # fmt: skip
    schema = await token_client.get("/openapi.json", headers=bearer(tokens.u2))
    assert schema.status_code == 200 and f"{API}/budgets/status" in schema.json()["paths"]
    docs = await token_client.get("/docs", headers=bearer(tokens.u2))
    assert docs.status_code == 200 and "/openapi.json" in docs.text


async def test_the_environment_token_is_an_admin(
    loaded_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_API_TOKEN, ADMIN_TOKEN)
    app = create_app(loaded_url, now=lambda: dataset.NOW)
    async for http in http_client(app):
        good = await http.get(f"{API}/overview", headers=bearer(ADMIN_TOKEN))
        assert (good.status_code, good.json()["total_executions"]) == (200, 4)
        near = await http.get(f"{API}/overview", headers=bearer(ADMIN_TOKEN[:-1] + "X"))
        assert near.status_code == 401


def test_a_short_environment_token_is_refused(
    loaded_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_API_TOKEN, "secret")
    with pytest.raises(ConfigurationError, match="AA_API_TOKEN is 6 characters"):
        create_app(loaded_url)


def test_no_way_to_authenticate_refuses_to_start(loaded_url: str) -> None:
    for make in (create_app, create_router):
        with pytest.raises(ConfigurationError) as refused:
            make(loaded_url)
        message = str(refused.value)
        assert "aa-notebooks token create --admin" in message and ENV_API_TOKEN in message
        assert "user_dependency=" in message and "allow_anonymous=True" in message


async def test_anonymous_when_allowed_and_no_token_exists(loaded_url: str) -> None:
    app = create_app(loaded_url, allow_anonymous=True, now=lambda: dataset.NOW)
    async for http in http_client(app):
        overview = (await http.get(f"{API}/overview")).json()
        assert (overview["scope"], overview["total_executions"]) == ("all users", 4)


async def test_allowing_anonymity_does_not_skip_stored_tokens(
    loaded_url: str, tokens: Tokens
) -> None:
    app = create_app(loaded_url, allow_anonymous=True, now=lambda: dataset.NOW)
    async for http in http_client(app):
        assert (await http.get(f"{API}/overview")).status_code == 401
        assert (await http.get(f"{API}/overview", headers=bearer(tokens.u1))).status_code == 200


async def test_a_host_dependency_may_name_a_user_or_an_admin(
    scoped_client: httpx.AsyncClient,
) -> None:
    user = await scoped_client.get(f"{API}/overview", headers={"x-user": str(dataset.U2)})
    assert (user.json()["scope"], user.json()["total_executions"]) == (f"user {dataset.U2}", 2)
    admin = await scoped_client.get(f"{API}/overview")  # the dependency gave None
    assert admin.json()["total_executions"] == 4
    malformed = await scoped_client.get(f"{API}/overview", headers={"x-user": "root"})
    assert malformed.status_code == 422 and "user_dependency" in malformed.json()["detail"]
