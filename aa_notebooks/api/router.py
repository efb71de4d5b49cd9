"""`create_router` and `create_app`: the document's HTTP API over one database.

User scoping: `user_dependency` is a FastAPI dependency (it may take the request, headers, a
token...) that returns the caller's user id, which scopes every analytics result and budget to
that user, as AgentOS does; returning None shows all users. Without one, nothing is scoped:
fine for a single user, and an app serving several must pass its own.
"""

import uuid
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from sqlalchemy.engine import URL

from aa_notebooks.analytics import Analytics, connect
from aa_notebooks.api.analytics_routes import add_analytics_routes
from aa_notebooks.api.budget_routes import add_budget_routes
from aa_notebooks.api.errors import KitRoute

PREFIX = "/api/analytics"


def all_users() -> None:
    """The default scope: every user's executions."""
    return None


def create_router(
    url: str | URL | None = None,
    *,
    user_dependency: Callable[..., Any] | None = None,
    now: Callable[[], datetime] | None = None,
) -> APIRouter:
    """The ten endpoints of the document's API Reference under /api/analytics.

    `url` as everywhere in the kit (else AA_DATABASE_URL, else the default SQLite file); `now`
    is a clock for tests and demos.
    """
    router = APIRouter(prefix=PREFIX, route_class=KitRoute, tags=["analytics"])
    user = Depends(user_dependency or all_users)

    @lru_cache(maxsize=256)
    def analytics_for(owner: str | None) -> Analytics:
        """One client per scope, so the schema is inspected once, not on every request."""
        return connect(url, user_id=owner, now=now)

    def analytics(owner: uuid.UUID | str | None = user) -> Analytics:
        return analytics_for(None if owner is None else str(owner))

    add_analytics_routes(router, Depends(analytics))
    add_budget_routes(router, url, user)
    return router


def create_app(
    url: str | URL | None = None,
    *,
    user_dependency: Callable[..., Any] | None = None,
    now: Callable[[], datetime] | None = None,
) -> FastAPI:
    """A FastAPI app serving the router (for `uvicorn --factory` or tests)."""
    app = FastAPI(title="aa-notebooks analytics API", version="1")
    app.include_router(create_router(url, user_dependency=user_dependency, now=now))
    return app
