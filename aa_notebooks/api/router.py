"""`create_router`: the data contract's HTTP API over one database, behind authentication.

Every route depends on the caller's Principal (see `auth`): an admin sees every user's data and
manages every budget; a user's results are scoped to that user, as AgentOS does, and it manages
only its own user budgets (see `budget_access`).
"""

from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from sqlalchemy.engine import URL

from aa_notebooks.analytics import Analytics, connect
from aa_notebooks.api.analytics_routes import add_analytics_routes
from aa_notebooks.api.auth import authenticator
from aa_notebooks.api.budget_routes import add_budget_routes
from aa_notebooks.api.errors import KitRoute
from aa_notebooks.api.principal import Principal
from aa_notebooks.api.status_routes import add_status_route
from aa_notebooks.db.engine import get_engine

PREFIX = "/api/analytics"


def create_router(
    url: str | URL | None = None,
    *,
    user_dependency: Callable[..., Any] | None = None,
    api_token: str | None = None,
    allow_anonymous: bool = False,
    now: Callable[[], datetime] | None = None,
) -> APIRouter:
    """The data contract's API Reference under /api/analytics, plus `GET /budgets/status`.

    `url` as everywhere in the kit (else AA_DATABASE_URL, else the default SQLite file).
    Authentication: `user_dependency` (a FastAPI dependency of the host app returning the
    caller's user id, None for an admin, or a Principal), else bearer tokens (`api_token`, else
    AA_API_TOKEN, and the tokens stored in the database); with none of them, a
    ConfigurationError unless `allow_anonymous=True`. `now` is a clock for tests and demos.
    """
    engine = get_engine(url)
    authenticate = authenticator(
        engine, user_dependency=user_dependency, api_token=api_token,
        allow_anonymous=allow_anonymous,
    )  # fmt: skip
    caller = Depends(authenticate)
    router = APIRouter(
        prefix=PREFIX,
        route_class=KitRoute.hiding(engine.url),
        tags=["analytics"],
        dependencies=[caller],
    )

    @lru_cache(maxsize=256)
    def analytics_for(owner: str | None) -> Analytics:
        """One client per scope, so the schema is inspected once, not on every request."""
        return connect(url, user_id=owner, now=now)

    def analytics(principal: Annotated[Principal, caller]) -> Analytics:
        return analytics_for(None if principal.user_id is None else str(principal.user_id))

    add_analytics_routes(router, Depends(analytics))
    add_status_route(router, Depends(analytics), caller)
    add_budget_routes(router, url, caller, now)
    return router
