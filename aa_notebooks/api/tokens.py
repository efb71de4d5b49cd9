"""The HTTP API's stored bearer tokens: create (shown once), list, revoke, and look up.

A token is `aan_` followed by 43 URL-safe characters from `secrets.token_urlsafe(32)`: 256 random
bits. Only its SHA-256 is stored. A password needs a slow, salted hash (bcrypt, argon2) because
people choose few of all possible passwords, so guessing them from a stolen hash is cheap; a
token drawn from 2^256 values cannot be guessed, however fast the hash, so a plain SHA-256 is as
safe, and lets a request find its token with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
import weakref
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, inspect, select, update
from sqlalchemy.engine import URL

from aa_notebooks.api.principal import Principal
from aa_notebooks.db.engine import connection_errors, get_engine
from aa_notebooks.db.schema import ApiToken, table_of, utcnow
from aa_notebooks.db.setup import init_db
from aa_notebooks.db.url import require_database
from aa_notebooks.errors import ConfigurationError, InvalidInputError, NotFoundError
from aa_notebooks.validation import check_text

TOKEN_PREFIX = "aan_"
TOKENS = table_of(ApiToken)
LIST_COLUMNS = ["id", "name", "role", "user_id", "created_at", "revoked_at"]
_with_token_table: weakref.WeakSet[Engine] = weakref.WeakSet()
ATTACHED_DATABASE = (
    "this database was not created by aa-notebooks (a GenAI AgentOS database), so the kit "
    "does not add its token table to it. Set AA_API_TOKEN to one admin token for "
    "`aa-notebooks serve`, or mount `create_router(user_dependency=...)` in an app that "
    "authenticates its users itself"
)


@dataclass(frozen=True)
class NewToken:
    """A token just made: `token` is the secret, shown this once and never stored."""

    id: uuid.UUID
    token: str
    principal: Principal
    name: str | None

    def __str__(self) -> str:
        named = f" {self.name!r}" if self.name else ""
        return (
            f"created {self.principal} token{named} (id {self.id}):\n{self.token}\n"
            "copy it now: it is not shown again (only its hash is stored). Send it as the "
            "header `Authorization: Bearer <token>`; revoke it with `aa-notebooks token revoke "
            f"{self.id}`"
        )

    def __repr__(self) -> str:
        return f"NewToken(id={self.id}, principal={self.principal}, name={self.name!r})"


def token_hash(token: str) -> str:
    """The SHA-256 (hex) under which a token is stored (see the module docstring for why)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(
    url: str | URL | None, principal: Principal, *, name: str | None = None
) -> NewToken:
    """Store a new random token for `principal`; the secret is only in the returned value.

    The kit's own database gets the token table if it lacks it; an attached AgentOS database
    is left alone (ConfigurationError saying what to use instead).
    """
    if name is not None:
        name = check_text(name, "name")
    engine = _token_engine(url)
    token, token_id = TOKEN_PREFIX + secrets.token_urlsafe(32), uuid.uuid4()
    row = {
        "id": token_id, "name": name, "is_admin": principal.admin, "user_id": principal.user_id,
        "token_sha256": token_hash(token), "created_at": utcnow(),
    }  # fmt: skip
    with connection_errors(engine.url), engine.begin() as connection:
        connection.execute(TOKENS.insert().values(**row))
    return NewToken(token_id, token, principal, name)


def list_tokens(url: str | URL | None = None) -> pd.DataFrame:
    """The tokens, oldest first: id, name, role, user_id, created_at, revoked_at (no secrets)."""
    engine = _token_engine(url)
    columns = TOKENS.c
    query = select(
        columns.id, columns.name, columns.is_admin, columns.user_id, columns.created_at,
        columns.revoked_at,
    ).order_by(columns.created_at, columns.id)  # fmt: skip
    with connection_errors(engine.url), engine.connect() as connection:
        rows = [dict(row._mapping) for row in connection.execute(query)]
    for row in rows:
        row["role"] = "admin" if row.pop("is_admin") else "user"
        row["id"], row["user_id"] = str(row["id"]), row["user_id"] and str(row["user_id"])
    frame = pd.DataFrame(rows, columns=LIST_COLUMNS, dtype=object)  # None stays None
    for column in ("created_at", "revoked_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def revoke_token(url: str | URL | None, token_id: uuid.UUID | str) -> datetime:
    """Revoke a token from now on; returns when it was revoked (the first time, if it was)."""
    try:
        key = token_id if isinstance(token_id, uuid.UUID) else uuid.UUID(str(token_id).strip())
    except ValueError:
        raise InvalidInputError(
            f"a token id is a UUID as `aa-notebooks token list` shows it; got {token_id!r}"
        ) from None
    engine = _token_engine(url)
    columns = TOKENS.c
    with connection_errors(engine.url), engine.begin() as connection:
        connection.execute(
            update(TOKENS)
            .where(columns.id == key, columns.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        revoked = connection.execute(select(columns.revoked_at).where(columns.id == key)).first()
    if revoked is None:
        raise NotFoundError(f"no API token with id {key} (see `aa-notebooks token list`)")
    revoked_at: datetime = revoked.revoked_at
    return revoked_at


def has_active_tokens(engine: Engine) -> bool:
    """Whether the database holds a token that is not revoked (False without the table)."""
    if not has_token_table(engine):
        return False
    query = select(TOKENS.c.id).where(TOKENS.c.revoked_at.is_(None)).limit(1)
    with connection_errors(engine.url), engine.connect() as connection:
        return connection.execute(query).first() is not None


def principal_for(engine: Engine, token: str) -> Principal | None:
    """The principal of a stored token that is not revoked, else None."""
    columns = TOKENS.c
    query = select(columns.is_admin, columns.user_id).where(
        columns.token_sha256 == token_hash(token), columns.revoked_at.is_(None)
    )
    if not has_token_table(engine):
        return None
    with connection_errors(engine.url), engine.connect() as connection:
        row = connection.execute(query).first()
    if row is None:
        return None
    return Principal.administrator() if row.is_admin else Principal.of_user(row.user_id)


def has_token_table(engine: Engine) -> bool:
    """Whether the database has the token table; once seen, remembered for the engine (so a
    request costs one query), while a missing table (or SQLite file) is looked for again
    (`token create` may add it to a database a server is already serving)."""
    if engine in _with_token_table:
        return True
    try:
        require_database(engine.url)
    except ConfigurationError:  # a SQLite file not made yet (and not to be made by a lookup)
        return False
    with connection_errors(engine.url):
        found = inspect(engine).has_table(TOKENS.name)
    if found:
        _with_token_table.add(engine)
    return found


def _token_engine(url: str | URL | None) -> Engine:
    """The engine of a database that has (or, being the kit's own, now gets) the token table."""
    engine = get_engine(require_database(url))
    if has_token_table(engine):
        return engine
    if init_db(engine.url).foreign_database:
        raise ConfigurationError(ATTACHED_DATABASE)
    return engine
