"""The budget endpoints: the data contract's curl body as it is, list, update, delete, validation,
and budgets owned by the user a host app's own authentication names."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.api.dataset import U1, U2

API = "/api/analytics"
JSON_TYPE = {"Content-Type": "application/json"}
DOCUMENT_BODY = {
    "threshold_usd": 100.00,
    "period_days": 30,
    "alert_type": "warning",
    "alert_at_percentage": 80,
    "email_notification": True,
}


async def test_create_list_update_delete(client: httpx.AsyncClient) -> None:
    created = await client.post(f"{API}/budgets", json=DOCUMENT_BODY)
    assert created.status_code == 201
    budget = created.json()
    assert (budget["scope"], budget["alert_type"], budget["threshold_usd"]) == (
        "global", "warning", "100.00",
    )  # fmt: skip
    assert (budget["period_days"], budget["alert_at_percentage"], budget["is_active"]) == (
        30,
        80,
        True,
    )

    # the spend now, not the copy `budgets evaluate` writes (it said 0.00): A1-A5 are all in
    # the 30 days, $0.0045 + $0.00012 + $0.015 + $0 + $1 = $1.01962
    listed = (await client.get(f"{API}/budgets")).json()["items"]
    assert [(b["id"], b["threshold_usd"], b["current_spend_usd"]) for b in listed] == [
        (budget["id"], "100.00", "1.02"),
    ]  # fmt: skip

    changed = await client.patch(f"{API}/budgets/{budget['id']}", json={"threshold_usd": "150.5"})
    assert changed.status_code == 200 and changed.json()["threshold_usd"] == "150.50"
    assert changed.json()["alert_type"] == "warning"  # untouched fields stay

    assert (await client.delete(f"{API}/budgets/{budget['id']}")).status_code == 204
    assert (await client.get(f"{API}/budgets")).json()["items"] == []
    gone = await client.patch(f"{API}/budgets/{budget['id']}", json={"is_active": False})
    assert gone.status_code == 404
    assert (await client.delete(f"{API}/budgets/{budget['id']}")).status_code == 404


async def test_invalid_budgets_answer_422_with_the_reason(client: httpx.AsyncClient) -> None:
    low = await client.post(f"{API}/budgets", json={**DOCUMENT_BODY, "alert_at_percentage": 0})
    assert low.status_code == 422 and "alert_at_percentage" in low.json()["detail"]
    agent = await client.post(f"{API}/budgets", json={**DOCUMENT_BODY, "scope": "agent"})
    assert agent.status_code == 422 and "needs a target" in agent.json()["detail"]
    missing = await client.post(f"{API}/budgets", json={"period_days": 30})
    assert missing.status_code == 422
    assert "threshold_usd: Field required" in missing.json()["detail"]
    unknown = await client.post(f"{API}/budgets", json={**DOCUMENT_BODY, "colour": "red"})
    assert unknown.status_code == 422 and "colour" in unknown.json()["detail"]


async def test_a_scoped_user_owns_and_sees_only_its_budgets(
    scoped_client: httpx.AsyncClient,
) -> None:
    alice, bob = {"x-user": str(U1)}, {"x-user": str(U2)}
    mine = (await scoped_client.post(f"{API}/budgets", json=DOCUMENT_BODY, headers=alice)).json()
    assert (mine["user_id"], mine["scope"]) == (str(U1), "user")  # a user's body: its budget
    assert (await scoped_client.get(f"{API}/budgets", headers=bob)).json()["items"] == []
    path = f"{API}/budgets/{mine['id']}"
    assert (
        await scoped_client.patch(path, json={"is_active": False}, headers=bob)
    ).status_code == 403
    assert (await scoped_client.delete(path, headers=bob)).status_code == 403
    given_away = {**DOCUMENT_BODY, "user_id": str(U2)}
    refused = await scoped_client.post(f"{API}/budgets", json=given_away, headers=alice)
    assert refused.status_code == 403
    assert (await scoped_client.delete(path, headers=alice)).status_code == 204


async def test_several_alert_levels(client: httpx.AsyncClient) -> None:
    created = await client.post(f"{API}/budgets", json={**DOCUMENT_BODY, "alert_levels": [90, 50]})
    assert created.status_code == 201 and created.json()["alert_levels"] == [50, 90]
    listed = (await client.get(f"{API}/budgets")).json()["items"]
    assert [b["alert_levels"] for b in listed] == [[50, 90]]
    bad = await client.post(f"{API}/budgets", json={**DOCUMENT_BODY, "alert_levels": [120]})
    assert bad.status_code == 422 and "alert_levels" in bad.json()["detail"]


async def test_a_body_over_the_limit_is_a_413_read_no_further(client: httpx.AsyncClient) -> None:
    """1 MiB is the most read: a 413 whether the length is declared or the body is streamed;
    a body of exactly 1 MiB (the document's, padded with spaces JSON allows) is still read."""
    text = json.dumps(DOCUMENT_BODY).encode()
    exact = text[:-1] + b" " * (1024 * 1024 - len(text)) + b"}"
    assert len(exact) == 1024 * 1024
    accepted = await client.post(f"{API}/budgets", content=exact, headers=JSON_TYPE)
    assert accepted.status_code == 201, accepted.text
    over = exact[:-1] + b" }"
    declared = await client.post(f"{API}/budgets", content=over, headers=JSON_TYPE)
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: read until past the limit
        for start in range(0, 4 * 1024 * 1024, 64 * 1024):
            sent.append(start)
            yield b" " * (64 * 1024)

    streamed = await client.post(f"{API}/budgets", content=chunks(), headers=JSON_TYPE)
    for refused in (declared, streamed):
        assert refused.status_code == 413
        assert refused.json() == {
            "detail": "the request body is over 1,048,576 bytes; a budget's body is a few fields"
        }
    assert len(sent) <= 1024 * 1024 // (64 * 1024) + 2  # stopped at the limit, not at 4 MiB
    listed = (await client.get(f"{API}/budgets")).json()["items"]
    assert [b["id"] for b in listed] == [accepted.json()["id"]]


@pytest.mark.postgres
async def test_a_scope_the_database_cannot_hold_is_a_422_that_says_which() -> None:
    """On a database made by the contract's DDL (no budgetalerts.target), an agent budget was
    answered 503, as if the server were broken; it is the request that has to change."""
    from pathlib import Path

    from aa_notebooks.api import create_app
    from aa_notebooks.db.engine import get_engine
    from tests.api.conftest import bearer, http_client
    from tests.conftest import drop_postgres_database, new_postgres_database

    url, name = new_postgres_database()
    try:
        ddl = Path(__file__).parents[1] / "db" / "document_ddl.sql"
        with get_engine(url).begin() as connection:
            connection.exec_driver_sql(ddl.read_text())
        app = create_app(url, api_token="t0ken-for-an-agentos-database")
        async for http in http_client(app, bearer("t0ken-for-an-agentos-database")):
            agent = {**DOCUMENT_BODY, "scope": "agent", "target": "researcher"}
            refused = await http.post(f"{API}/budgets", json=agent)
            assert (refused.status_code, refused.json()) == (422, {"detail": (
                "agent budgets need the budgetalerts.target column, which this database lacks "
                "(a GenAI AgentOS database); use a global or user budget here"
            )})  # fmt: skip
            made = await http.post(f"{API}/budgets", json=DOCUMENT_BODY)
            assert made.status_code == 201
            listed = (await http.get(f"{API}/budgets")).json()["items"]
            assert [budget["scope"] for budget in listed] == ["global"]
    finally:
        drop_postgres_database(url, name)
