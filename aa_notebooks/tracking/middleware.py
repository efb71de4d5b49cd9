"""`AnalyticsMiddleware`: one recorded execution per request on an ASGI app's agent routes.

Pure ASGI: it wraps `receive` and `send` only, so the handler runs in the request's own context
and `current_run()` there is the request's run (to add steps and token usage). Decisions:
- routes: path prefixes or a predicate on the ASGI scope; by default every HTTP request outside
  `/api/analytics` (the kit's own API), the framework's pages (FastAPI's OpenAPI schema and
  docs) and the usual probe paths (`PROBE_PATHS`: a health check answered 402 under a spent hard
  stop would take the app out of service). Of those, only requests that reach a route of the app are
  recorded: a path no route matches (404: scanners probe thousands) and a method the matching
  route does not serve (405) are passed through unrecorded, since no agent ran. An app without a
  Starlette router (plain ASGI) is recorded by the prefixes alone;
- fields (see `sources`) are read before the call, for the hard-stop check, and again after it,
  when routing, dependencies (`request.state`) and the JSON body the app read have filled in;
  a user or agent id that is not a UUID is left out (and logged) rather than failing the request;
- status: below 400 is `success`; 400 and above is `failure` (error type `HTTP 404`...), as the
  caller did not get its answer; an exception is `failure` with its class and message and goes
  on to the server; past `timeout_s` the app is cancelled, the run is `timeout` and the client
  gets 504 (or the connection is dropped, when the response had started);
- a spent hard_stop budget answers 402 without calling the app, and records nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from aa_notebooks.errors import BudgetExceededError, InvalidInputError, MissingExtraError
from aa_notebooks.tracking.defaults import get_tracker
from aa_notebooks.tracking.ids import optional_uuid, session_uuid
from aa_notebooks.tracking.run import Run
from aa_notebooks.tracking.sources import RequestView, Source, reader, reads_json
from aa_notebooks.tracking.tracker import Tracker

try:
    from starlette.responses import JSONResponse
    from starlette.routing import Match
    from starlette.types import ASGIApp, Message, Receive, Scope, Send
except ImportError:
    raise MissingExtraError("fastapi", "api") from None

log = logging.getLogger(__name__)

ANALYTICS_API_PREFIX = "/api/analytics"
PROBE_PATHS = frozenset(
    ("/health", "/healthz", "/livez", "/readyz", "/ready", "/ping", "/metrics", "/favicon.ico")
)
"""Paths of health checks, metrics scrapers and browsers, where no agent runs."""
_FRAMEWORK_PAGES = ("openapi_url", "docs_url", "redoc_url", "swagger_ui_oauth2_redirect_url")
MAX_BODY_BYTES = 64 * 1024  # a larger body is not read for `json:` sources
Sources = Source | Sequence[Source]


class AnalyticsMiddleware:
    """Records each request to an agent route as an execution (see the module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        tracker: Tracker | None = None,
        routes: Sequence[str] | Callable[[Scope], bool] | None = None,
        agent_name: str | None = None,
        agent_type: str | None = None,
        model: str | None = None,
        agent_name_from: Sources = ("path:agent_name", "path:agent", "endpoint"),
        agent_id_from: Sources = ("path:agent_id",),
        user_id_from: Sources = ("state:user_id", "header:x-user-id"),
        session_id_from: Sources = ("state:session_id", "header:x-session-id"),
        flow_id_from: Sources = ("state:flow_id", "header:x-flow-id"),
        query_from: Sources = ("json:query", "query:query", "query:q"),
        timeout_s: float | None = None,
    ) -> None:
        self.app = app
        self.timeout_s = timeout_s
        self._tracker = tracker
        self._routes = routes
        self._fixed = {"agent_name": agent_name, "agent_type": agent_type, "model": model}
        every = {
            "agent_name": agent_name_from, "agent_id": agent_id_from, "user_id": user_id_from,
            "session_id": session_id_from, "flow_id": flow_id_from, "query": query_from,
        }  # fmt: skip
        self._readers = {field: reader(sources, field) for field, sources in every.items()}
        self._reads_body = any(reads_json(sources) for sources in every.values())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = _route(scope) if scope["type"] == "http" and self._is_agent_route(scope) else None
        if route is None:
            await self.app(scope, receive, send)
            return
        await self._record(scope, receive, send, route)

    def _is_agent_route(self, scope: Scope) -> bool:
        if callable(self._routes):
            return self._routes(scope)
        path = _app_path(scope)
        if self._routes is None:
            return not (
                path.startswith(ANALYTICS_API_PREFIX)
                or path.rstrip("/") in PROBE_PATHS
                or _framework_page(scope, path)
            )
        paths = (path, scope.get("path", ""))  # a prefix may name the proxy's part, or not
        return any(p.startswith(prefix) for prefix in self._routes for p in paths)

    async def _record(
        self, scope: Scope, receive: Receive, send: Send, route: tuple[Mapping[str, Any], Any]
    ) -> None:
        statuses: list[int] = []
        body = bytearray() if self._reads_body else None

        async def receive_and_keep() -> Message:
            nonlocal body
            message = await receive()
            if body is not None and message["type"] == "http.request":
                body += message.get("body", b"")
                if len(body) > MAX_BODY_BYTES:
                    body = None  # too big to be read for a field
            return message

        async def send_and_watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])
            await send(message)

        path_params, endpoint = route
        fields = self._fields(RequestView(scope, path_params, endpoint))
        execution = (self._tracker or get_tracker()).execution(**fields, timeout_s=self.timeout_s)
        try:
            async with execution as run:
                try:
                    await self.app(scope, receive_and_keep, send_and_watch)
                finally:
                    self._complete(run, scope, body, statuses)
        except BudgetExceededError as refused:
            if statuses:
                raise
            await JSONResponse({"detail": str(refused)}, status_code=402)(scope, receive, send)
        except TimeoutError:
            if statuses or not execution.timed_out:
                raise
            detail = f"the agent did not answer within {self.timeout_s} s"
            await JSONResponse({"detail": detail}, status_code=504)(scope, receive, send)

    def _fields(self, view: RequestView) -> dict[str, Any]:
        """The execution's fields from the request; fixed values win over sources."""
        found: dict[str, Any] = {field: read(view) for field, read in self._readers.items()}
        for field in ("user_id", "agent_id"):
            found[field] = _uuid_or_none(found[field], field)
        found.update({k: v for k, v in self._fixed.items() if v is not None})
        return found

    def _complete(
        self, run: Run, scope: Scope, body: bytearray | None, statuses: list[int]
    ) -> None:
        """Fill in what routing and the handler revealed, and the outcome of the response."""
        view = RequestView(scope, scope.get("path_params", {}), scope.get("endpoint"), body)
        for field, value in self._fields(view).items():
            if value is not None:
                setattr(run, field, session_uuid(value) if field == "session_id" else value)
        if statuses and statuses[0] >= 400:
            run.fail(f"HTTP {statuses[0]}", _phrase(statuses[0]))


def _app_path(scope: Scope) -> str:
    """The request's path within the app: behind a proxy's prefix (`--root-path /svc`), the
    server's path starts with that prefix, which the app's own routes do not name."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _framework_page(scope: Scope, path: str) -> bool:
    """Whether `path` is a page the framework serves about the app (FastAPI's /docs...)."""
    app = scope.get("app")
    return any(getattr(app, name, None) == path for name in _FRAMEWORK_PAGES)


def _route(scope: Scope) -> tuple[Mapping[str, Any], Any] | None:
    """Path parameters and endpoint of the route the app will choose, before it runs; None when
    no route takes the request (path and method). An app without a router: no parameters."""
    router = getattr(scope.get("app"), "router", None)
    if router is None or not hasattr(router, "routes"):
        return {}, None
    return _matching(scope, router.routes)


def _matching(scope: Scope, routes: Sequence[Any]) -> tuple[Mapping[str, Any], Any] | None:
    """The first route matching path and method, looking inside mounted routers."""
    for route in routes:
        match, child = route.matches(scope)
        if match is not Match.FULL:
            continue
        inner = getattr(route, "routes", None)
        if inner:  # a Mount or Host of a router: its own routes decide
            return _matching({**scope, **child}, inner)
        return child.get("path_params", {}), child.get("endpoint")
    return None


def _uuid_or_none(value: str | None, field: str) -> uuid.UUID | None:
    try:
        return optional_uuid(value, field)
    except InvalidInputError:
        log.warning("%s %r from the request is not a UUID: not recorded", field, value)
        return None


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"status {status}"
