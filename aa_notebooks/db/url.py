"""Where the analytics database is: explicit URL, else AA_DATABASE_URL, else a SQLite file."""

from __future__ import annotations

import os
import re
from pathlib import Path

from platformdirs import user_data_dir
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from aa_notebooks.errors import ConfigurationError

ENV_DATABASE_URL = "AA_DATABASE_URL"
SUPPORTED_SCHEMES = ("sqlite", "postgresql")
_SYNC_DRIVERS = {"sqlite": "sqlite+pysqlite", "postgresql": "postgresql+psycopg"}
_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}


def default_database_path() -> Path:
    """The embedded default: a SQLite file in the user's data directory."""
    return Path(user_data_dir("aa-notebooks", appauthor=False)) / "analytics.db"


def resolve_url(url: str | URL | None = None, *, asynchronous: bool = False) -> URL:
    """Pick the database URL and the driver the kit uses for it.

    `postgres://` and `postgresql://` get psycopg 3; `sqlite://` gets pysqlite (aiosqlite when
    `asynchronous`). Anything else is a ConfigurationError that lists what is accepted.
    """
    raw = url if url is not None else os.environ.get(ENV_DATABASE_URL) or None
    if raw is None:
        return make_url(f"sqlite:///{default_database_path()}").set(
            drivername=_ASYNC_DRIVERS["sqlite"] if asynchronous else _SYNC_DRIVERS["sqlite"]
        )
    if isinstance(raw, str) and raw.startswith("postgres://"):
        raw = "postgresql://" + raw[len("postgres://") :]
    try:
        parsed = make_url(raw)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise ConfigurationError(
            f"cannot parse the database URL {mask_url(str(raw))!r}; use e.g. "
            "sqlite:///path/to/analytics.db or postgresql://user:password@host:5432/dbname"
        ) from None
    if _unescaped_at(str(raw)):
        raise ConfigurationError(
            f"the database URL {mask_url(str(raw))!r} has an '@' in its password or user name: "
            "write it as %40 there (URL-encode them: urllib.parse.quote(password, safe=''))"
        )
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_SCHEMES:
        raise ConfigurationError(
            f"unsupported database {backend!r} in {mask_url(parsed)}; "
            "aa-notebooks works with sqlite:/// and postgresql:// URLs"
        )
    drivers = _ASYNC_DRIVERS if asynchronous else _SYNC_DRIVERS
    return parsed.set(drivername=drivers[backend])


def mask_url(url: str | URL) -> str:
    """The URL as text with its password replaced by ***, safe to print or log: the one after
    the user name and any secret among the query's options (`?password=...`, which libpq and
    psycopg take as well)."""
    if isinstance(url, str):
        if _unescaped_at(url):  # SQLAlchemy would show the password's tail as host or path
            return _masked_text(url)
        try:
            parsed = make_url(url)
        except (ArgumentError, ValueError):
            return _masked_text(url)
    else:
        parsed = url
    secret = {key: "***" for key in parsed.query if _SECRET_OPTION.search(key)}
    shown = parsed.update_query_dict(secret).render_as_string(hide_password=True)
    return mask_settings(shown.replace("=%2A%2A%2A", "=***") if secret else shown)


_SECRET_OPTION = re.compile(r"pass|pwd|secret|token|key", re.IGNORECASE)
"""Query options that hold a secret (password, sslpassword, passwd, api_key...)."""

_SECRET_SETTING = re.compile(
    rf"(\b\w*(?:{_SECRET_OPTION.pattern})\w*\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s&;']+)", re.IGNORECASE
)


def mask_settings(text: str) -> str:
    """`text` with the values of secret `key=value` settings hidden: a libpq connection string
    (`host=db password=...`) pasted as a URL, or after `postgresql://`, where SQLAlchemy reads
    it all as the host name, and the driver's error repeats it."""
    return _SECRET_SETTING.sub(r"\1***", text)


def _masked_text(url: str) -> str:
    """A URL SQLAlchemy cannot parse, safe to show: what stands before its last "@" but the user
    name hidden (a mistyped `postgresql//user:pw@host` too, or a password with an "@" left
    unescaped), and the values of secret settings and query options; text with spaces and no
    settings (a password typed in place of the URL?) shows its first word only."""
    if "@" in url:
        credentials, _, host = url.rpartition("@")
        head, sep, user = credentials.partition("://")
        if sep:
            url = f"{head}://{user.split(':', 1)[0]}:***@{host}"
        else:
            scheme = re.match(r"[A-Za-z][\w+.-]*:?/*", credentials)
            url = f"{scheme.group() if scheme else ''}***@{host}"
    elif not re.search(r"[:/=\s]", url):  # one word: a password pasted in place of the URL?
        return "(not shown: one word, which may be a password)"
    elif match := re.match(r"([A-Za-z][\w+.-]*:?//[^:/]*:)[^/]*", url):  # user:password, no @
        url = f"{match.group(1)}***{url[match.end() :]}"
    url = re.sub(rf"([?&][^=&]*(?:{_SECRET_OPTION.pattern})[^=&]*=)[^&]*", r"\1***", url,
                 flags=re.IGNORECASE)  # fmt: skip
    words = url.split()
    if len(words) > 1 and "=" not in url:
        return f"{words[0]} …"
    return mask_settings(url)


def _unescaped_at(url: str) -> bool:
    """Whether a server URL holds two '@': one of them is in its user name or password."""
    head, sep, tail = url.partition("://")
    return bool(sep) and not head.lower().startswith("sqlite") and tail.count("@") > 1


def is_sqlite(url: URL) -> bool:
    """True for any SQLite URL, whichever driver."""
    return url.get_backend_name() == "sqlite"


def require_database(url: str | URL | None = None) -> URL:
    """The resolved URL, or a clear error when it names a SQLite file that does not exist yet.

    Read-only commands must not create an empty file and then report zero rows.
    """
    resolved = resolve_url(url)
    database = resolved.database or ""
    if database and resolved.query.get("uri") == "true":  # file:PATH?mode=ro&uri=true
        database = database.removeprefix("file:")
    in_a_file = is_sqlite(resolved) and database and database != ":memory:"
    if in_a_file and not Path(database).expanduser().exists():
        raise ConfigurationError(
            f"no database yet at {database}; create one with demo data: "
            "`aa-notebooks seed` (or an empty one: `aa-notebooks init-db`), "
            "or point AA_DATABASE_URL at an existing database"
        )
    return resolved
