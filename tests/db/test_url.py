"""Where the database is, how its URL is shown, and SQLite's concurrency settings."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from aa_notebooks.analytics import connect
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.url import default_database_path, mask_url, require_database, resolve_url
from aa_notebooks.errors import ConfigurationError, DatabaseUnavailableError


def test_resolution_order(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    explicit = f"sqlite:///{tmp_path / 'a.db'}"
    monkeypatch.setenv("AA_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    assert resolve_url(explicit).database == str(tmp_path / "a.db")
    assert resolve_url().database == str(tmp_path / "env.db")
    monkeypatch.delenv("AA_DATABASE_URL")
    assert resolve_url().database == str(default_database_path())
    assert str(default_database_path()).startswith(str(tmp_path / "xdg-data"))


def test_drivers() -> None:
    assert resolve_url("postgres://u:p@h/db").drivername == "postgresql+psycopg"
    assert resolve_url("postgresql://u:p@h/db", asynchronous=True).drivername == (
        "postgresql+psycopg"
    )
    assert resolve_url("sqlite:///x.db", asynchronous=True).drivername == "sqlite+aiosqlite"


@pytest.mark.parametrize(
    "url",
    ["mysql://u:p@h/db", "not a url", "oracle+cx://u:p@h/db"],
)
def test_unsupported_or_malformed(url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        resolve_url(url)
    assert "sqlite:///" in str(info.value)
    assert ":p@" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql//aa_test:S3cretPW@127.0.0.1/db", "postgresql//***@127.0.0.1/db"),  # no ":"
        ("not a url S3cretPW", "not …"),  # a password pasted in place of the URL?
        ("S3cretPW!", "(not shown: one word, which may be a password)"),
        ("postgresql//aa_test:S3cretPW/db", "postgresql//aa_test:***/db"),  # no "@" either
        ("sqlite//analytics.db", "sqlite//analytics.db"),
    ],
)
def test_a_url_that_cannot_be_parsed_is_shown_without_its_secret(url: str, shown: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        resolve_url(url)
    assert f"cannot parse the database URL {shown!r}" in str(info.value)
    assert "S3cretPW" not in str(info.value)


def test_an_at_sign_left_in_a_password_is_named_and_hidden() -> None:
    """SQLAlchemy reads the password up to its first "@" and the rest as the host's name."""
    url = "postgresql://aa_test:S3c@retPW@127.0.0.1/db"
    assert mask_url(url) == "postgresql://aa_test:***@127.0.0.1/db"
    with pytest.raises(ConfigurationError) as info:
        resolve_url(url)
    assert str(info.value) == (
        "the database URL 'postgresql://aa_test:***@127.0.0.1/db' has an '@' in its password or "
        "user name: write it as %40 there (URL-encode them: urllib.parse.quote(password, "
        "safe=''))"
    )
    assert resolve_url("postgresql://aa_test:S3c%40retPW@127.0.0.1/db").password == "S3c@retPW"
    # an "@" then a "/": SQLAlchemy read the rest as the host `ss` and a database `word@host/db`
    slashed = "postgresql://aa_test:S3c@ss/word@127.0.0.1/db"
    assert mask_url(slashed) == "postgresql://aa_test:***@127.0.0.1/db"
    with pytest.raises(ConfigurationError, match="has an '@' in its password"):
        resolve_url(slashed)
    assert resolve_url("sqlite:////tmp/@team/@x.db").database == "/tmp/@team/@x.db"


def test_mask_hides_passwords() -> None:
    assert mask_url("postgresql://alice:s3cret@db:5432/x") == "postgresql://alice:***@db:5432/x"
    assert "s3cret" not in mask_url("weird://alice:s3cret@@host")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql:///x?user=alice&password=s3cret&host=db",
            "postgresql:///x?host=db&password=***&user=alice",
        ),
        (
            "postgresql://alice@db/x?password=s3cret&sslmode=require&sslpassword=k3y",
            "postgresql://alice@db/x?password=***&sslmode=require&sslpassword=***",
        ),
        (
            "postgresql://alice:s3cret@db/x?sslmode=require",
            "postgresql://alice:***@db/x?sslmode=require",
        ),
    ],
)
def test_mask_url_hides_a_password_given_as_a_query_option(url: str, shown: str) -> None:
    assert mask_url(url) == shown
    assert mask_url(make_url(url)) == shown


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("host=db password=s3cret dbname=x", "host=db password=*** dbname=x"),
        ("host=db password='s3 cret' user=a", "host=db password=*** user=a"),
        ("postgresql://host=db password=s3cret", "postgresql://host=db password=***"),
    ],
)
def test_a_libpq_connection_string_pasted_as_a_url_is_masked(url: str, shown: str) -> None:
    """SQLAlchemy cannot parse the first two, and reads the third's settings as its host."""
    assert mask_url(url) == shown


def test_an_unreachable_server_named_by_a_connection_string_shows_no_password() -> None:
    with pytest.raises(DatabaseUnavailableError) as refused:
        connect("postgresql://host=nowhere.invalid password=s3cret dbname=x").overview("1h")
    assert "s3cret" not in str(refused.value) and "password=***" in str(refused.value)


def test_missing_sqlite_file_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ConfigurationError, match="aa-notebooks seed"):
        require_database(f"sqlite:///{tmp_path / 'nope.db'}")
    assert not (tmp_path / "nope.db").exists()


def test_unreachable_postgres_is_one_line() -> None:
    from aa_notebooks.db.inspection import check_db

    with pytest.raises(DatabaseUnavailableError) as info:
        check_db("postgresql://bob:hunter2@127.0.0.1:1/none")
    message = str(info.value)
    assert "hunter2" not in message and "bob:***@" in message
    assert "server is running" in message and "\n" not in message


def test_sqlite_pragmas(tmp_path) -> None:
    engine = get_engine(f"sqlite:///{tmp_path / 'p.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000


def test_a_quoted_password_with_an_escaped_quote_is_masked_whole() -> None:
    assert mask_url(r"host=db password='se\'cret word' user=a") == "host=db password=*** user=a"
