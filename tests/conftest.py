"""Databases for tests: a SQLite file per test and a fresh PostgreSQL database per test.

PostgreSQL comes from AA_TEST_POSTGRES_URL (a role with CREATEDB); the tests that must run as a
superuser, as many notebooks do, also use AA_TEST_POSTGRES_SUPERUSER_URL. Each test gets a copy
of a template database made once per run by `init_db`, so the schema is the kit's own. Without
a variable its PostgreSQL cases skip, except under CI=true, where they fail: CI must run them.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from aa_notebooks.analytics import anomalies
from aa_notebooks.db.engine import dispose_engine
from aa_notebooks.db.setup import init_db

POSTGRES_ENV = "AA_TEST_POSTGRES_URL"
SUPERUSER_ENV = "AA_TEST_POSTGRES_SUPERUSER_URL"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]

# A shell's background job starts with SIGINT ignored, and the processes the tests start would
# inherit that: the tests that interrupt them need SIGINT's default action back.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _required_url(variable: str) -> str:
    url = os.environ.get(variable)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{variable} is not set: CI must run the PostgreSQL tests")
        pytest.skip(f"{variable} not set")
    return url


def _admin_url() -> str:
    return _required_url(POSTGRES_ENV)


def _admin_execute(admin_url: str, *statements: str) -> None:
    engine = create_engine(
        make_url(admin_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A database holding the kit's schema, to copy per test; dropped at the end of the run."""
    admin = _admin_url()
    name = f"aa_tmpl_{uuid.uuid4().hex[:10]}"
    _admin_execute(admin, f'CREATE DATABASE "{name}"')
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    init_db(url)
    dispose_engine(url)
    yield name
    _admin_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def new_postgres_database(template: str | None = None) -> tuple[str, str]:
    """Create an empty (or template-copied) database; returns its URL and name."""
    admin = _admin_url()
    name = f"aa_t_{uuid.uuid4().hex[:12]}"
    suffix = f' TEMPLATE "{template}"' if template else ""
    _admin_execute(admin, f'CREATE DATABASE "{name}"{suffix}')
    return make_url(admin).set(database=name).render_as_string(hide_password=False), name


def drop_postgres_database(url: str, name: str) -> None:
    """Close the kit's connections to a test database and drop it.

    An autovacuum worker can hold the database for a moment; FORCE may not end it without
    pg_signal_backend, so the drop is retried briefly before giving up.
    """
    dispose_engine(url)
    for attempt in range(10):
        try:
            _admin_execute(_admin_url(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except DBAPIError:
            if attempt == 9:
                raise
            time.sleep(0.3)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database kind a test runs on; tests using `db_url` run once per kind."""
    return request.param


@pytest.fixture
def db_url(backend: str, tmp_path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database with the kit's schema, on SQLite or PostgreSQL."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'analytics.db'}"
        init_db(url)
        yield url
        dispose_engine(url)
        return
    template = request.getfixturevalue("postgres_template")
    url, name = new_postgres_database(template)
    yield url
    drop_postgres_database(url, name)


@pytest.fixture
def superuser_db_url(db_url: str, backend: str) -> Iterator[str]:
    """`db_url`, reached as a PostgreSQL superuser (SQLite: the same file)."""
    if backend == "sqlite":
        yield db_url
        return
    database = make_url(db_url).database
    url = make_url(_required_url(SUPERUSER_ENV)).set(database=database)
    rendered = url.render_as_string(hide_password=False)
    yield rendered
    dispose_engine(rendered)


@pytest.fixture
def empty_db_url(backend: str, tmp_path) -> Iterator[str]:
    """A database with no tables at all, on SQLite or PostgreSQL."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'empty.db'}"
        yield url
        dispose_engine(url)
        return
    url, name = new_postgres_database()
    yield url
    drop_postgres_database(url, name)


@pytest.fixture(autouse=True)
def _fresh_anomaly_scans() -> None:
    """Each test works out its own anomaly scans (the kit keeps the last few by what they read)."""
    anomalies.forget_scans()


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """Keep tests off the user's real database and price file."""
    monkeypatch.delenv("AA_DATABASE_URL", raising=False)
    monkeypatch.delenv("AA_PRICING_FILE", raising=False)
    for name in ("HOST", "PORT", "USER", "PASSWORD", "FROM", "SECURITY"):
        monkeypatch.delenv(f"AA_SMTP_{name}", raising=False)
    monkeypatch.delenv("AA_SCHEDULES_FILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
