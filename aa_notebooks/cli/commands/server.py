"""`serve` (the HTTP API) and `token create|list|revoke` (its bearer tokens); the `api` extra."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from aa_notebooks.cli.context import CommandContext
from aa_notebooks.cli.options import Subcommands
from aa_notebooks.errors import InvalidInputError

if TYPE_CHECKING:  # the api package needs the `api` extra: imported when a command runs
    from aa_notebooks.api.principal import Principal

TOKEN_ACTIONS = ("create", "list", "revoke")
MAX_WORKERS = 64


def port_number(text: str) -> int:
    """argparse type: a TCP port, 1-65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 1 <= port <= 65_535:
        raise argparse.ArgumentTypeError(f"a port is 1-65535, got {port}")
    return port


def worker_count(text: str) -> int:
    """argparse type: a number of server processes, 1-64."""
    try:
        workers = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of processes, got {text!r}") from None
    if not 1 <= workers <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"--workers is 1-{MAX_WORKERS}, got {workers}")
    return workers


def register(subcommands: Subcommands) -> list[argparse.ArgumentParser]:
    """Add serve and token."""
    serve = subcommands.add_parser(
        "serve",
        help="serve the HTTP API (/api/analytics/...) until Ctrl-C",
        description="Serve the HTTP API under uvicorn. Every request needs a bearer token "
        "(`token create`, or AA_API_TOKEN); without one configured, only a loopback address "
        "is served, with a one-time admin token printed at start.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=port_number, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--workers",
        type=worker_count,
        default=1,
        help="server processes sharing the port (default 1); more take more OTLP traces a "
        "second on a machine with more cores",
    )
    serve.set_defaults(handler=run_serve)

    token = subcommands.add_parser(
        "token",
        help="create (--admin or --user ID), list or revoke API tokens",
        description="Bearer tokens of the HTTP API. A new token is printed once; only its "
        "hash is stored. An admin token sees every user and manages every budget; a user "
        "token (--user ID) sees that user's data and manages that user's budgets only.",
    )
    token.add_argument("action", choices=TOKEN_ACTIONS)
    token.add_argument("id", nargs="?", help="the token id (revoke)")
    token.add_argument("--admin", action="store_true", help="create an admin token")
    token.add_argument("--name", help="a name to recognise the token by (create)")
    token.set_defaults(handler=run_token)
    return [serve, token]


def run_serve(args: argparse.Namespace, context: CommandContext) -> None:
    """Serve until interrupted."""
    if context.user_id is not None:
        raise InvalidInputError("serve takes no --user: each request's token says whose data")
    from aa_notebooks.api.serve import serve

    serve(context.database_url, host=args.host, port=args.port, workers=args.workers)


def run_token(args: argparse.Namespace, context: CommandContext) -> Any:
    """Create, list or revoke tokens in the database of --db."""
    from aa_notebooks.api.tokens import create_token, list_tokens, revoke_token

    if args.action != "create" and (args.admin or args.name):
        raise InvalidInputError("--admin and --name go with `token create`")
    if args.action == "create":
        return create_token(context.database_url, _principal(args, context), name=args.name)
    if args.action == "list":
        tokens = list_tokens(context.database_url)
        if context.user_id is None:
            return tokens
        return tokens[[str(user) == context.user_id for user in tokens["user_id"]]]
    if not args.id:
        raise InvalidInputError("`token revoke` needs the token id (see `aa-notebooks token list`)")
    revoked_at = revoke_token(context.database_url, args.id)
    return f"token {args.id} is revoked (since {revoked_at:%Y-%m-%d %H:%M:%S} UTC)"


def _principal(args: argparse.Namespace, context: CommandContext) -> Principal:
    """Whose token to create: --admin, or --user ID (exactly one)."""
    from aa_notebooks.analytics.filters import parse_uuid
    from aa_notebooks.api.principal import Principal

    if args.admin == (context.user_id is not None):
        raise InvalidInputError("`token create` takes exactly one of --admin and --user ID")
    if context.user_id is None:  # so --admin was given
        return Principal.administrator()
    return Principal.of_user(parse_uuid(context.user_id, "--user"))
