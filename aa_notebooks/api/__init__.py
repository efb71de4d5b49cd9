"""The data contract's HTTP API as an optional FastAPI router (the `api` extra).

`create_router(url, ...)` adds the ten endpoints of its API Reference (and a read-only budget
status) under /api/analytics to an app; `create_app(...)` is a ready app, which
`aa-notebooks serve` runs. Every route needs authentication (see `auth`): bearer tokens, or the
host app's own `user_dependency`. Answers are JSON (money as decimal strings, see `encoding`),
CSV or JSON files for export; errors are one line (see `errors`).
"""

try:
    import fastapi  # noqa: F401
except ImportError:
    from aa_notebooks.errors import MissingExtraError

    raise MissingExtraError("fastapi", "api") from None

from aa_notebooks.api.app import create_app
from aa_notebooks.api.principal import Principal
from aa_notebooks.api.router import create_router

__all__ = ["Principal", "create_app", "create_router"]
