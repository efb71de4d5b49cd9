"""The token store on both databases: a token is shown once and only its SHA-256 is kept; list
shows neither; revoked and unknown tokens name no one; an AgentOS database is left alone."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from aa_notebooks.api import Principal
from aa_notebooks.api.tokens import (
    LIST_COLUMNS,
    TOKENS,
    create_token,
    has_active_tokens,
    list_tokens,
    principal_for,
    revoke_token,
)
from aa_notebooks.db.engine import get_engine
from aa_notebooks.errors import ConfigurationError, InvalidInputError, NotFoundError
from tests.conftest import drop_postgres_database, new_postgres_database

USER = uuid.UUID("11111111-1111-4111-8111-111111111111")
DOCUMENT_DDL = Path(__file__).parents[1] / "db" / "document_ddl.sql"


def test_a_token_is_stored_as_its_hash_only(db_url: str) -> None:
    made = create_token(db_url, Principal.of_user(USER), name="laptop")
    assert made.token.startswith("aan_") and len(made.token) == 4 + 43  # 32 random bytes
    assert made.token in str(made) and made.token not in repr(made)
    with get_engine(db_url).connect() as connection:
        rows = [dict(row._mapping) for row in connection.execute(select(TOKENS))]
    assert len(rows) == 1
    assert rows[0]["token_sha256"] == hashlib.sha256(made.token.encode()).hexdigest()
    assert (rows[0]["is_admin"], rows[0]["user_id"], rows[0]["name"]) == (False, USER, "laptop")
    assert not any(made.token in str(value) for value in rows[0].values())


def test_list_shows_neither_token_nor_hash(db_url: str) -> None:
    admin = create_token(db_url, Principal.administrator())
    user = create_token(db_url, Principal.of_user(USER), name="ci")
    listed = list_tokens(db_url)
    assert list(listed.columns) == LIST_COLUMNS
    assert [(r.id, r.name, r.role, r.user_id) for r in listed.itertuples()] == [
        (str(admin.id), None, "admin", None), (str(user.id), "ci", "user", str(USER)),
    ]  # fmt: skip
    shown = listed.to_string()
    for secret in (admin.token, user.token, hashlib.sha256(user.token.encode()).hexdigest()):
        assert secret not in shown and secret[4:12] not in shown


def test_tokens_name_their_principal_until_revoked(db_url: str) -> None:
    engine = get_engine(db_url)
    admin = create_token(db_url, Principal.administrator())
    user = create_token(db_url, Principal.of_user(USER))
    assert principal_for(engine, admin.token) == Principal.administrator()
    assert principal_for(engine, user.token) == Principal.of_user(USER)
    assert principal_for(engine, "aan_" + "x" * 43) is None
    first = revoke_token(db_url, user.id)
    assert revoke_token(db_url, str(user.id)) == first  # revoking again keeps the first time
    assert principal_for(engine, user.token) is None
    assert principal_for(engine, admin.token) == Principal.administrator()
    assert list_tokens(db_url)["revoked_at"].notna().tolist() == [False, True]
    assert has_active_tokens(engine)
    revoke_token(db_url, admin.id)
    assert not has_active_tokens(engine)


def test_revoking_what_is_not_there(db_url: str) -> None:
    with pytest.raises(NotFoundError, match="no API token with id 00000000-"):
        revoke_token(db_url, "00000000-0000-4000-8000-000000000000")
    with pytest.raises(InvalidInputError, match="a token id is a UUID"):
        revoke_token(db_url, "aan_abc")


def test_a_token_name_may_not_hold_nul(db_url: str) -> None:
    with pytest.raises(InvalidInputError, match="name must not contain NUL"):
        create_token(db_url, Principal.administrator(), name="a\x00b")


def test_the_kit_database_gets_the_table_back(db_url: str) -> None:
    with get_engine(db_url).begin() as connection:
        connection.execute(text("DROP TABLE apitokens"))
    made = create_token(db_url, Principal.administrator())
    assert principal_for(get_engine(db_url), made.token) == Principal.administrator()


def test_a_missing_sqlite_file_has_no_tokens_and_is_not_made(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    engine = get_engine(f"sqlite:///{path}")
    assert not has_active_tokens(engine) and principal_for(engine, "aan_x") is None
    assert not path.exists()


@pytest.fixture
def document_db() -> Iterator[str]:
    """A PostgreSQL database made by the data contract's DDL (an AgentOS database)."""
    url, name = new_postgres_database()
    with get_engine(url).begin() as connection:
        connection.exec_driver_sql(DOCUMENT_DDL.read_text())
    yield url
    drop_postgres_database(url, name)


@pytest.mark.postgres
def test_an_agentos_database_gets_no_token_table(document_db: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        create_token(document_db, Principal.administrator())
    message = str(refused.value)
    assert "not created by aa-notebooks" in message
    assert "AA_API_TOKEN" in message and "user_dependency" in message
    assert "apitokens" not in inspect(get_engine(document_db)).get_table_names()
    assert not has_active_tokens(get_engine(document_db))
