"""`create_app`: a FastAPI app serving the router, its OpenAPI schema and docs page behind the
same authentication as the API itself (they describe every endpoint)."""

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy.engine import URL

from aa_notebooks.api.otlp_route import OtlpReceiver, create_otlp_router
from aa_notebooks.api.router import create_router

TITLE = "aa-notebooks analytics API"
OPENAPI_PATH, DOCS_PATH = "/openapi.json", "/docs"


def create_app(
    url: str | URL | None = None,
    *,
    user_dependency: Callable[..., Any] | None = None,
    api_token: str | None = None,
    allow_anonymous: bool = False,
    now: Callable[[], datetime] | None = None,
) -> FastAPI:
    """The API as an app (for `aa-notebooks serve`, `uvicorn --factory` or tests); the
    arguments are `create_router`'s, which refuses to run without authentication unless
    `allow_anonymous=True`."""
    receiver = OtlpReceiver(url)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        threading.Thread(target=receiver.resume_held, name="aa-notebooks-otel-resume").start()
        yield
        receiver.close()  # the traces received are written before the server exits

    app = FastAPI(
        title=TITLE, version="1", openapi_url=None, docs_url=None, redoc_url=None,
        lifespan=lifespan,
    )  # fmt: skip
    router = create_router(
        url, user_dependency=user_dependency, api_token=api_token,
        allow_anonymous=allow_anonymous, now=now,
    )  # fmt: skip
    app.include_router(router)
    app.state.otlp = receiver
    authenticate = router.dependencies[0].dependency  # the API's own, for the same tokens
    app.include_router(create_otlp_router(receiver, authenticate))  # type: ignore[arg-type]
    app.include_router(_docs_router(app, router))
    return app


def _docs_router(app: FastAPI, api: APIRouter) -> APIRouter:
    """/openapi.json and /docs, with the API's own route class and authentication."""
    docs = APIRouter(route_class=api.route_class, dependencies=api.dependencies)

    @docs.get(OPENAPI_PATH, include_in_schema=False)
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @docs.get(DOCS_PATH, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=OPENAPI_PATH, title=TITLE)

    return docs
