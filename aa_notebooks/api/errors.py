"""The kit's errors as HTTP answers, for every route of the analytics router.

`{"detail": "<one line that says what to do>"}` with: 422 for a bad parameter or body
(InvalidInputError, or FastAPI's own validation, whose structured list is kept in `errors`),
404 NotFoundError, 402 BudgetExceededError (a spending limit, as payment-required answers
are used for quotas), 503 when the database is unreachable, lacks the tables, or is not
configured (DatabaseUnavailableError, SchemaError, ConfigurationError). A failed SQL statement
is explained first (`explain_database_error`), so its SQL and parameters never reach a body.

A 5xx body never names the database's user, host, port or name: an unreachable database is
"the database is unreachable", and any other message holding part of the URL is replaced by a
fixed one. The full message goes to the server's log.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar

from fastapi import Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.engine import URL
from sqlalchemy.exc import StatementError

from aa_notebooks.api.bodies import bounded_body
from aa_notebooks.db.engine import explain_database_error
from aa_notebooks.errors import (
    AnalyticsError,
    BudgetExceededError,
    ConfigurationError,
    DatabaseUnavailableError,
    InvalidInputError,
    NotFoundError,
    SchemaError,
    first_line,
)

log = logging.getLogger(__name__)

STATUS_CODES: tuple[tuple[type[AnalyticsError], int], ...] = (
    (InvalidInputError, 422),
    (NotFoundError, 404),
    (BudgetExceededError, 402),
    (DatabaseUnavailableError, 503),
    (SchemaError, 503),
    (ConfigurationError, 503),
)
UNREACHABLE = "the database is unreachable; the server's log has the detail"
NOT_SET_UP = (
    "the database lacks the tables this endpoint needs: run `aa-notebooks init-db` on the "
    "server (or `aa-notebooks check-db` to see what an attached database lacks)"
)
INTERNAL = "internal error; the server's log has the detail"
MAX_BODY_BYTES = 1024 * 1024
"""The largest request body these routes read (a budget's is well under a kilobyte): a longer
one is refused with a 413 after reading at most this much."""
TOO_LARGE = f"the request body is over {MAX_BODY_BYTES:,} bytes; a budget's body is a few fields"


def status_for(error: AnalyticsError) -> int:
    """The HTTP status of a kit error (500 for one without a mapping)."""
    return next((code for kind, code in STATUS_CODES if isinstance(error, kind)), 500)


def database_words(url: URL) -> tuple[str, ...]:
    """The parts of a database URL a response must not show: user, host, port, database (for
    SQLite, the file's path and name)."""
    words = [url.username, url.host, None if url.port is None else str(url.port), url.database]
    if url.database and "/" in url.database:
        words.append(url.database.rsplit("/", 1)[1])
    return tuple(word for word in words if word)


def public_detail(error: AnalyticsError, status: int, private_words: tuple[str, ...]) -> str:
    """The one line to answer with: the error's own, unless it could show the database."""
    text = first_line(error)
    if status < 500:
        return text
    if isinstance(error, DatabaseUnavailableError):
        return UNREACHABLE
    if status != 503:
        return INTERNAL
    return NOT_SET_UP if any(word in text for word in private_words) else text


class KitRoute(APIRoute):
    """A route that answers kit errors, database errors and validation failures with one line."""

    database_url: ClassVar[URL | None] = None
    private_words: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def hiding(cls, url: URL) -> type[KitRoute]:
        """This route class for the database at `url`, whose parts no 5xx body shows."""
        attributes = {"database_url": url, "private_words": database_words(url)}
        return type(cls.__name__, (cls,), attributes)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_errors(request: Request) -> Response:
            if not await _within_limit(request):
                return JSONResponse({"detail": TOO_LARGE}, status_code=413)
            try:
                return await handle(request)
            except RequestValidationError as error:
                errors = _finite(jsonable_encoder(error.errors()))
                body = {"detail": explain(error), "errors": errors}
                return JSONResponse(body, status_code=422)
            except StatementError as error:
                return self._answer(request, explain_database_error(error, self.database_url))
            except AnalyticsError as error:
                return self._answer(request, error)

        return handle_errors

    def _answer(self, request: Request, error: AnalyticsError) -> JSONResponse:
        status = status_for(error)
        if status >= 500:
            log.warning("%s %s answered %d: %s", request.method, request.url.path, status, error)
        detail = public_detail(error, status, self.private_words)
        return JSONResponse({"detail": detail}, status_code=status)


async def _within_limit(request: Request) -> bool:
    """Whether the body is at most MAX_BODY_BYTES, reading no more than that of it; the body
    read is kept on the request for the route (Starlette's `Request.body` answers from it)."""
    body = await bounded_body(request, MAX_BODY_BYTES)
    if body is None:
        return False
    request._body = body  # where Starlette keeps a body it has read
    return True


def _finite(value: Any) -> Any:
    """`value` with NaN and the infinities as text: a validation error repeats the input, which
    JSON cannot hold as a number (`{"threshold_usd": NaN}` answered 500 instead of 422)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [_finite(item) for item in value]
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    return value


def explain(error: RequestValidationError) -> str:
    """FastAPI's validation errors as `where: message; ...`."""
    parts = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"
