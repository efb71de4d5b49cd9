"""`serve`: the API app under uvicorn, refusing to face a network without a token.

With no token configured (neither AA_API_TOKEN nor a stored token that is not revoked), it
serves only on a loopback address, and even there every request needs a token: it makes a
one-time admin token for this run and prints it once, as Jupyter does, so another user of the
same machine cannot read the data. On any other address it refuses and says how to make a token.

With several workers, uvicorn runs that many processes on one port, each making the app with
`create_app()` from the environment: the database URL (and a one-time token) reach them as
AA_DATABASE_URL and AA_API_TOKEN, never on a command line that `ps` would show.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import sys

from sqlalchemy.engine import URL

from aa_notebooks.api.app import create_app
from aa_notebooks.api.auth import ENV_API_TOKEN, configured_api_token
from aa_notebooks.api.tokens import TOKEN_PREFIX, has_active_tokens
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.url import ENV_DATABASE_URL, require_database
from aa_notebooks.errors import ConfigurationError, MissingExtraError
from aa_notebooks.tracking import flush_on_signals

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8000
MAKE_A_TOKEN = (
    f"create one with `aa-notebooks token create --admin` (or --user ID), or set {ENV_API_TOKEN} "
    "to a long random string"
)


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable from this machine only: localhost, 127.0.0.0/8 or ::1
    (other host names count as reachable from the network)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def serve(
    url: str | URL | None = None,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    workers: int = 1,
) -> None:
    """Serve the API on host:port until interrupted (Ctrl-C), in `workers` processes."""
    try:
        import uvicorn
    except ImportError:
        raise MissingExtraError("uvicorn", "api") from None
    database = require_database(url)
    has_token = configured_api_token() is not None or has_active_tokens(get_engine(database))
    run_token = None
    if not has_token:
        if not is_loopback(host):
            raise ConfigurationError(
                f"refusing to serve on {host} without an API token: anyone who can reach the "
                f"port would read every user's data and change every budget; {MAKE_A_TOKEN}"
            )
        run_token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        print(
            "aa-notebooks: no API token is configured, so this run made a one-time admin token "
            f"(valid until the server stops):\n    Authorization: Bearer {run_token}\n"
            f"To choose your own, {MAKE_A_TOKEN}",
            file=sys.stderr,
            flush=True,
        )
    app = create_app(database, api_token=run_token)  # a bad setting is one line here, not N
    if workers == 1:
        # The OTLP receiver's writer starts in a request's thread, where no signal handler can
        # be installed: this main thread does it, so a stopped server flushes what it received.
        flush_on_signals()
        uvicorn.run(app, host=host, port=port, log_level="info")
        return
    os.environ[ENV_DATABASE_URL] = database.render_as_string(hide_password=False)
    if run_token is not None:
        os.environ[ENV_API_TOKEN] = run_token
    uvicorn.run(
        "aa_notebooks.api.app:create_app", factory=True, workers=workers,
        host=host, port=port, log_level="info",
    )  # fmt: skip
