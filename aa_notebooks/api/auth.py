"""Who is calling: the FastAPI dependency that turns a request into a Principal, or refuses it.

Three ways, chosen once when the router is made:
- the host's `user_dependency` (an app that authenticates its users itself) returns a user id
  (that user), None (an admin: every user) or a Principal;
- else bearer tokens: `Authorization: Bearer <token>` with AA_API_TOKEN (one admin token, for a
  single user; compared in constant time) or a token stored by `aa-notebooks token create`.
  A missing, unknown or revoked token is 401 with `WWW-Authenticate: Bearer`;
- else nobody can be told apart, and the API refuses to start unless `allow_anonymous=True`
  makes every caller an admin (a single user on their own machine).
"""

# No `from __future__ import annotations`: FastAPI reads the dependencies' annotations at run
# time, and they name the host's dependency, a local variable.
import hmac
import os
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from aa_notebooks.analytics.filters import parse_uuid
from aa_notebooks.api.principal import Principal
from aa_notebooks.api.tokens import TOKEN_PREFIX, has_active_tokens, principal_for
from aa_notebooks.errors import ConfigurationError

ENV_API_TOKEN = "AA_API_TOKEN"
MIN_TOKEN_LENGTH = 20
NO_AUTHENTICATION = (
    "the API has no way to tell its callers apart, so it would serve every user's data and "
    "budgets to anyone: create a token with `aa-notebooks token create --admin` (or --user ID), "
    f"or set {ENV_API_TOKEN}, or pass user_dependency= (your app's own authentication); "
    "pass allow_anonymous=True only for a single user on their own machine"
)
bearer = HTTPBearer(
    auto_error=False,
    description="a token from `aa-notebooks token create`, or the AA_API_TOKEN admin token",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def configured_api_token(api_token: str | None = None) -> str | None:
    """`api_token`, else AA_API_TOKEN, else None; a token too short to be secret is refused."""
    token = api_token if api_token is not None else os.environ.get(ENV_API_TOKEN)
    token = (token or "").strip()
    if not token:
        return None
    if len(token) < MIN_TOKEN_LENGTH:
        raise ConfigurationError(
            f"{ENV_API_TOKEN} is {len(token)} characters; use at least {MIN_TOKEN_LENGTH} random "
            "ones, e.g. from `python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
        )
    return token


def authenticator(
    engine: Engine,
    *,
    user_dependency: Callable[..., Any] | None,
    api_token: str | None,
    allow_anonymous: bool,
) -> Callable[..., Principal]:
    """The dependency giving each request's Principal (see the module docstring for which);
    ConfigurationError when there is no way to authenticate and anonymity was not allowed."""
    if user_dependency is not None:
        return _host_principal(user_dependency)
    admin_token = configured_api_token(api_token)
    if admin_token is not None or has_active_tokens(engine):
        return _token_principal(engine, admin_token)
    if allow_anonymous:
        return anonymous_admin
    raise ConfigurationError(NO_AUTHENTICATION)


def anonymous_admin() -> Principal:
    """Every caller, when anonymity was allowed: an admin."""
    return Principal.administrator()


def unauthorized(reason: str) -> HTTPException:
    """401 asking for a bearer token."""
    return HTTPException(401, reason, headers={"WWW-Authenticate": "Bearer"})


def _token_principal(engine: Engine, admin_token: str | None) -> Callable[..., Principal]:
    expected = None if admin_token is None else admin_token.encode()

    def token_principal(credentials: Credentials) -> Principal:
        """The caller named by the request's bearer token."""
        if credentials is None:
            raise unauthorized("send a token as the header `Authorization: Bearer <token>`")
        given = credentials.credentials.encode()
        if expected is not None and hmac.compare_digest(given, expected):
            return Principal.administrator()
        if credentials.credentials.startswith(TOKEN_PREFIX):
            found = principal_for(engine, credentials.credentials)
            if found is not None:
                return found
        raise unauthorized("the token is unknown or revoked")

    return token_principal


def _host_principal(user_dependency: Callable[..., Any]) -> Callable[..., Principal]:
    def host_principal(owner: Annotated[Any, Depends(user_dependency)]) -> Principal:
        """The caller as the host's dependency names it."""
        if isinstance(owner, Principal):
            return owner
        if owner is None:
            return Principal.administrator()
        return Principal.of_user(parse_uuid(owner, "the user id from user_dependency"))

    return host_principal
