"""The kit's errors as HTTP answers, for every route of the analytics router.

`{"detail": "<one line that says what to do>"}` with: 422 for a bad parameter or body
(InvalidInputError, or FastAPI's own validation, whose structured list is kept in `errors`),
404 NotFoundError, 402 BudgetExceededError (a spending limit, as payment-required answers
are used for quotas), 503 when the database is unreachable, lacks the tables, or is not
configured (DatabaseUnavailableError, SchemaError, ConfigurationError).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from aa_notebooks.errors import (
    AnalyticsError,
    BudgetExceededError,
    ConfigurationError,
    DatabaseUnavailableError,
    InvalidInputError,
    NotFoundError,
    SchemaError,
)

STATUS_CODES: tuple[tuple[type[AnalyticsError], int], ...] = (
    (InvalidInputError, 422),
    (NotFoundError, 404),
    (BudgetExceededError, 402),
    (DatabaseUnavailableError, 503),
    (SchemaError, 503),
    (ConfigurationError, 503),
)


def status_for(error: AnalyticsError) -> int:
    """The HTTP status of a kit error (500 for one without a mapping)."""
    return next((code for kind, code in STATUS_CODES if isinstance(error, kind)), 500)


class KitRoute(APIRoute):
    """A route that answers kit errors and validation failures with one clear line."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_errors(request: Request) -> Response:
            try:
                return await handle(request)
            except RequestValidationError as error:
                body = {"detail": explain(error), "errors": jsonable_encoder(error.errors())}
                return JSONResponse(body, status_code=422)
            except AnalyticsError as error:
                return JSONResponse({"detail": str(error)}, status_code=status_for(error))

        return handle_errors


def explain(error: RequestValidationError) -> str:
    """FastAPI's validation errors as `where: message; ...`."""
    parts = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"
