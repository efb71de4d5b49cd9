"""Which spool a writer replays: one per database, whatever URL names it, and never another
database's; the spools earlier versions named by the whole URL."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from aa_notebooks.db.engine import dispose_engine
from aa_notebooks.db.setup import init_db
from aa_notebooks.db.url import resolve_url
from aa_notebooks.tracking.spool import Spool, database_directory
from aa_notebooks.tracking.writer import BatchWriter
from tests.conftest import SUPERUSER_ENV
from tests.tracking.conftest import counts, executions
from tests.tracking.test_store import make_record

RELATIVE = "sqlite:///analytics.db"


def spooled_by_a_dead_writer(directory: Path, agent: str, count: int = 3) -> None:
    """Records left in `directory` as a writer that ended during an outage leaves them."""
    spool = Spool(directory)
    spool.append([make_record(agent=agent) for _ in range(count)])
    spool.close()  # released, not emptied: the next writer for the database replays it


def replay(url: str, root: Path) -> None:
    """What a new writer for `url` does first: replay the spool, then stop."""
    writer = BatchWriter(url, spool_dir=root)
    try:
        assert writer.flush(timeout=60)
    finally:
        writer.close()
        dispose_engine(url)


def earlier_name(url: str) -> str:
    """The directory name earlier versions gave a URL's spool: a hash of the whole masked URL."""
    resolved = resolve_url(url)
    shown = resolved.render_as_string(hide_password=True)
    name = Path(resolved.database or "").name
    return f"{resolved.get_backend_name()}-{name}-{hashlib.sha256(shown.encode()).hexdigest()[:12]}"


def test_a_relative_sqlite_url_never_replays_another_directorys_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "spool"
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        monkeypatch.chdir(tmp_path / name)
        init_db(RELATIVE)
        dispose_engine(RELATIVE)
    monkeypatch.chdir(tmp_path / "a")
    spooled_by_a_dead_writer(database_directory(root, resolve_url(RELATIVE)), "from-a")
    monkeypatch.chdir(tmp_path / "b")
    replay(RELATIVE, root)
    assert executions(f"sqlite:///{tmp_path / 'b' / 'analytics.db'}") == []
    monkeypatch.chdir(tmp_path / "a")
    replay(RELATIVE, root)
    a_url = f"sqlite:///{tmp_path / 'a' / 'analytics.db'}"
    assert [row["agent_name"] for row in executions(a_url)] == ["from-a"] * 3
    # the absolute URL of the same file shares the spool
    assert database_directory(root, resolve_url(a_url)) == database_directory(
        root, resolve_url(RELATIVE)
    )


def test_an_absolute_sqlite_url_keeps_the_spool_earlier_versions_made(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'analytics.db'}"
    root = tmp_path / "spool"
    assert database_directory(root, resolve_url(url)) == root / earlier_name(url)


def test_an_earlier_versions_spool_of_a_relative_url_is_left_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "spool"
    monkeypatch.chdir(tmp_path)
    init_db(RELATIVE)
    dispose_engine(RELATIVE)
    earlier = root / earlier_name(RELATIVE)
    spooled_by_a_dead_writer(earlier, "from-somewhere")
    with caplog.at_level(logging.WARNING, logger="aa_notebooks.tracking.spool"):
        replay(RELATIVE, root)
    assert executions(f"sqlite:///{tmp_path / 'analytics.db'}") == []
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    current = database_directory(root, resolve_url(RELATIVE))
    assert str(earlier) in warning and str(current) in warning
    assert str(tmp_path / "analytics.db") in warning
    assert len(list(earlier.glob("segment-*.jsonl"))) == 1  # left where it was


def with_query(url: str, **options: str) -> str:
    """`url` with query options added."""
    return make_url(url).update_query_dict(options).render_as_string(hide_password=False)


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_runs_spooled_with_other_connection_settings_are_replayed(
    db_url: str, tmp_path: Path
) -> None:
    """Adding `application_name` (or a timeout, or sslmode) to the URL left the runs spooled
    under the URL before it where no process would replay them."""
    root = tmp_path / "spool"
    variants = {
        "an application name": with_query(db_url, application_name="worker-7"),
        "a connect timeout": with_query(db_url, connect_timeout="10"),
        "an sslmode": with_query(db_url, sslmode="prefer"),
    }
    for why, variant in variants.items():
        spooled_by_a_dead_writer(database_directory(root, resolve_url(variant)), why)
    replay(db_url, root)
    assert sorted(row["agent_name"] for row in executions(db_url)) == sorted(
        why for why in variants for _ in range(3)
    )


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_another_roles_spool_is_left_with_a_warning(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Another role may reach another schema (a search_path of "$user", public) and another
    host name another server: their spools are not replayed here, but said to be waiting."""
    root = tmp_path / "spool"
    parsed = make_url(db_url)
    other_host = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}[parsed.host or ""]
    others = [
        make_url(os.environ[SUPERUSER_ENV]).set(database=parsed.database),
        parsed.set(host=other_host),
    ]
    directories = [database_directory(root, resolve_url(other)) for other in others]
    for directory in directories:
        spooled_by_a_dead_writer(directory, "another-url")
    with caplog.at_level(logging.WARNING, logger="aa_notebooks.tracking.spool"):
        replay(db_url, root)
    assert executions(db_url) == []
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.startswith(f"runs spooled for another URL of a database named {parsed.database}")
    assert all(str(directory) in warning for directory in directories)
    assert f":{parsed.password}@" not in warning
    assert all(len(list(d.glob("segment-*.jsonl"))) == 1 for d in directories)


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_an_earlier_versions_spool_of_the_url_is_replayed(db_url: str, tmp_path: Path) -> None:
    root = tmp_path / "spool"
    url = with_query(db_url, application_name="worker-7")
    earlier = root / earlier_name(url)
    assert earlier != database_directory(root, resolve_url(url))
    spooled_by_a_dead_writer(earlier, "spooled-before-the-upgrade", count=4)
    replay(url, root)
    assert counts(db_url) == (4, 8, 4)
    assert list(earlier.glob("segment-*.jsonl")) == []


def test_the_role_host_port_and_socket_keep_their_own_spools(tmp_path: Path) -> None:
    def directory(url: str) -> Path:
        return database_directory(tmp_path, resolve_url(url))

    url = "postgresql://alice:secret@db.example/x"
    same = f"{url}?application_name=a&sslmode=require&connect_timeout=3&keepalives=1"
    assert directory(url) == directory(same)
    assert directory(url) == directory("postgresql://alice:rotated@db.example/x")
    different = [
        "postgresql://bob@db.example/x",
        "postgresql://alice@db.example:5433/x",
        "postgresql://alice@db.example/y",
        "postgresql://alice@db.example/x?options=-csearch_path%3Dagents",
        "postgresql://alice@/x?host=/run/a",
    ]
    assert len({directory(url), *map(directory, different)}) == 1 + len(different)
    assert directory("postgresql://alice@/x?host=/run/a") != directory(
        "postgresql://alice@/x?host=/run/b"
    )


def test_a_relative_sqlite_uri_is_its_files_real_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`sqlite:///file:x.db?uri=true` named the same spool from every folder; a folder reached
    through a symbolic link is the same file, so the same spool."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "a")
    uri = "sqlite:///file:x.db?uri=true"
    seen = {}
    for folder in ("a", "b", "link"):
        monkeypatch.chdir(tmp_path / folder)
        seen[folder] = database_directory(tmp_path, resolve_url(uri))
    assert seen["a"] != seen["b"] and seen["a"] == seen["link"]
    assert seen["a"] == database_directory(
        tmp_path, resolve_url(f"sqlite:///file:{tmp_path / 'a' / 'x.db'}?uri=true")
    )
