"""Where `AnalyticsMiddleware` reads a field of the execution from a request.

A source is `"header:NAME"`, `"state:NAME"` (`request.state`, set by an earlier middleware or a
dependency), `"query:NAME"` (query string), `"path:NAME"` (route parameter), `"json:NAME"` (a
top-level field of a JSON request body the app read), `"endpoint"` (the route function's name),
or a callable taking the `RequestView`. A field takes the first source that gives a value. The
raw body is never a source: it may hold far more than a query.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl

from aa_notebooks.errors import InvalidInputError

KINDS = ("header", "state", "query", "path", "json")


@dataclass(frozen=True)
class RequestView:
    """What sources read: the ASGI scope (headers, query string, state, route) and the body."""

    scope: Mapping[str, Any]
    path_params: Mapping[str, Any]
    endpoint: Any
    body: bytes | bytearray | None = None

    def header(self, name: str) -> str | None:
        """The first value of a request header (case-insensitive)."""
        wanted = name.lower().encode("latin-1")
        headers: Iterable[tuple[bytes, bytes]] = self.scope.get("headers", ())
        for key, value in headers:
            if key.lower() == wanted:
                return value.decode("latin-1")
        return None

    def query_param(self, name: str) -> str | None:
        """The first value of a query-string parameter."""
        query = self.scope.get("query_string", b"").decode("latin-1")
        return next((value for key, value in parse_qsl(query) if key == name), None)

    def json_field(self, name: str) -> Any:
        """A top-level field of the JSON body, when the body was a JSON object the app read."""
        return self._json_object.get(name)

    @cached_property
    def _json_object(self) -> dict[str, Any]:
        try:
            document = json.loads(self.body) if self.body else None
        except ValueError:
            return {}
        return document if isinstance(document, dict) else {}


Source = str | Callable[[RequestView], Any]
Reader = Callable[[RequestView], str | None]


def reader(sources: Source | Sequence[Source], field: str) -> Reader:
    """A function giving the field's value from the first source that has one (else None)."""
    chosen = [sources] if isinstance(sources, str) or callable(sources) else list(sources)
    readers = [_one(source, field) for source in chosen]

    def read(view: RequestView) -> str | None:
        for one in readers:
            value = one(view)
            if value is not None and value != "":
                return str(value)
        return None

    return read


def reads_json(sources: Source | Sequence[Source]) -> bool:
    """Whether any of these sources needs the request body."""
    chosen = [sources] if isinstance(sources, str) or callable(sources) else list(sources)
    return any(isinstance(s, str) and s.startswith("json:") for s in chosen)


def _one(source: Source, field: str) -> Callable[[RequestView], Any]:
    if callable(source):
        return source
    if source == "endpoint":
        return lambda view: getattr(view.endpoint, "__name__", None)
    kind, _, name = source.partition(":")
    if kind not in KINDS or not name:
        raise InvalidInputError(
            f"cannot read {field} from {source!r}; use one of "
            + ", ".join(f"'{k}:NAME'" for k in KINDS)
            + ", 'endpoint' or a callable"
        )
    return {
        "header": lambda view: view.header(name),
        "state": lambda view: (view.scope.get("state") or {}).get(name),
        "query": lambda view: view.query_param(name),
        "path": lambda view: view.path_params.get(name),
        "json": lambda view: view.json_field(name),
    }[kind]
