"""The product document's HTTP API as an optional FastAPI router (the `api` extra).

`create_router(url, user_dependency=...)` adds the ten endpoints of its API Reference under
/api/analytics to an app; `create_app(...)` is a ready app. Answers are JSON (money as decimal
strings, see `encoding`), CSV or JSON files for export; errors are one line (see `errors`).
"""

try:
    import fastapi  # noqa: F401
except ImportError:
    from aa_notebooks.errors import MissingExtraError

    raise MissingExtraError("fastapi", "api") from None

from aa_notebooks.api.router import create_app, create_router

__all__ = ["create_app", "create_router"]
