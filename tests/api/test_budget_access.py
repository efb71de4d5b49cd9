"""Who may see and change which budget, with stored tokens: a user token manages only the user
budgets of its own user (403 with the reason otherwise) and never sees anyone else's spend; an
admin token may do everything.

Spend, by hand from tests/api/dataset.py at NOW (a budget counts [NOW - period_days, NOW]):
U1 ran A1 0.004500, A2 0.000120 and A5 1.000000 (10 days ago); U2 ran A3 0.015000 and A4 0.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.api.conftest import Tokens, bearer
from tests.api.dataset import U1, U2

API = "/api/analytics"
BODY = {"threshold_usd": "10.00", "alert_type": "hard_stop", "period_days": 30}


async def _create(http: httpx.AsyncClient, token: str, **fields: Any) -> dict[str, Any]:
    created = await http.post(f"{API}/budgets", json={**BODY, **fields}, headers=bearer(token))
    assert created.status_code == 201, created.text
    return created.json()


@pytest.fixture
async def budgets(token_client: httpx.AsyncClient, tokens: Tokens) -> dict[str, dict[str, Any]]:
    """Budgets an admin made: a global one owned by U1 (its spend is everyone's), an agent
    and a flow budget, and a user budget each for U1 and U2."""
    admin = tokens.admin
    return {
        "global": await _create(token_client, admin, scope="global", user_id=str(U1)),
        "agent": await _create(token_client, admin, scope="agent", target="planner"),
        "flow": await _create(token_client, admin, scope="flow", target="checkout"),
        "u1": await _create(token_client, admin, scope="user", user_id=str(U1)),
        "u2": await _create(token_client, admin, scope="user", user_id=str(U2)),
    }


async def test_a_user_sees_only_its_own_user_budgets(
    token_client: httpx.AsyncClient, tokens: Tokens, budgets: dict[str, dict[str, Any]]
) -> None:
    listed = (await token_client.get(f"{API}/budgets", headers=bearer(tokens.u1))).json()
    assert [b["id"] for b in listed["items"]] == [budgets["u1"]["id"]]
    status = (await token_client.get(f"{API}/budgets/status", headers=bearer(tokens.u1))).json()
    assert [(b["id"], Decimal(b["spend_usd"])) for b in status["items"]] == [
        (budgets["u1"]["id"], Decimal("1.004620")),  # A1 + A2 + A5: U1's own spend
    ]  # fmt: skip
    everyone = (await token_client.get(f"{API}/budgets", headers=bearer(tokens.admin))).json()
    assert len(everyone["items"]) == 5
    spend = {
        b["id"]: Decimal(b["spend_usd"])
        for b in (
            await token_client.get(f"{API}/budgets/status", headers=bearer(tokens.admin))
        ).json()["items"]
    }
    assert spend[budgets["global"]["id"]] == Decimal("1.019620")  # all five executions
    assert spend[budgets["agent"]["id"]] == Decimal("1.004620")  # planner: A1, A2, A5
    assert spend[budgets["u2"]["id"]] == Decimal("0.015000")  # A3 + A4


@pytest.mark.parametrize(
    "body",
    [
        {"scope": "global"},
        {"scope": "agent", "target": "planner"},
        {"scope": "flow", "target": "checkout"},
        {"scope": "user", "user_id": str(U2)},
    ],
    ids=["global", "agent", "flow", "other-user"],
)
async def test_a_user_may_not_create_budgets_beyond_its_own(
    token_client: httpx.AsyncClient, tokens: Tokens, body: dict[str, str]
) -> None:
    refused = await token_client.post(
        f"{API}/budgets", json={**BODY, "threshold_usd": "0.01", **body}, headers=bearer(tokens.u1)
    )
    assert refused.status_code == 403
    assert "admin token" in refused.json()["detail"]
    listed = (await token_client.get(f"{API}/budgets", headers=bearer(tokens.admin))).json()
    assert listed["items"] == []


@pytest.mark.parametrize("which", ["global", "agent", "flow", "u2"])
async def test_a_user_may_not_change_or_delete_others(
    token_client: httpx.AsyncClient, tokens: Tokens, budgets: dict[str, Any], which: str
) -> None:
    path, user = f"{API}/budgets/{budgets[which]['id']}", bearer(tokens.u1)
    changed = await token_client.patch(path, json={"threshold_usd": "0.01"}, headers=user)
    deleted = await token_client.delete(path, headers=user)
    assert (changed.status_code, deleted.status_code) == (403, 403)
    reason = changed.json()["detail"]
    expected = "belongs to another user" if which == "u2" else f"{which} budgets count every user"
    assert expected in reason and "admin token" in reason
    after = (await token_client.get(f"{API}/budgets", headers=bearer(tokens.admin))).json()
    kept = next(b for b in after["items"] if b["id"] == budgets[which]["id"])
    assert kept["threshold_usd"] == "10.00"


async def test_a_user_manages_its_own_budget_but_cannot_widen_it(
    token_client: httpx.AsyncClient, tokens: Tokens, budgets: dict[str, Any]
) -> None:
    path, mine = f"{API}/budgets/{budgets['u1']['id']}", bearer(tokens.u1)
    changed = await token_client.patch(path, json={"threshold_usd": "12.5"}, headers=mine)
    assert (changed.status_code, changed.json()["threshold_usd"]) == (200, "12.50")
    widened = await token_client.patch(path, json={"scope": "global"}, headers=mine)
    given = await token_client.patch(path, json={"user_id": str(U2)}, headers=mine)
    assert (widened.status_code, given.status_code) == (403, 403)
    made = await token_client.post(f"{API}/budgets", json=BODY, headers=mine)
    assert (made.json()["scope"], made.json()["user_id"]) == ("user", str(U1))
    assert (await token_client.delete(path, headers=mine)).status_code == 204
    assert (await token_client.delete(path, headers=mine)).status_code == 404


async def test_an_admin_may_change_and_delete_any_budget(
    token_client: httpx.AsyncClient, tokens: Tokens, budgets: dict[str, Any]
) -> None:
    admin = bearer(tokens.admin)
    for which in ("global", "agent", "flow", "u1", "u2"):
        path = f"{API}/budgets/{budgets[which]['id']}"
        changed = await token_client.patch(path, json={"is_active": False}, headers=admin)
        assert (changed.status_code, changed.json()["is_active"]) == (200, False)
        assert (await token_client.delete(path, headers=admin)).status_code == 204
    assert (await token_client.get(f"{API}/budgets", headers=admin)).json()["items"] == []


async def test_a_per_user_budget_is_an_admins_and_each_user_sees_its_own_status(
    token_client: httpx.AsyncClient, tokens: Tokens
) -> None:
    """$1 for each user over 30 days: U1 spent $1.004620 (exceeded), U2 $0.015000 (ok)."""
    for body in ({"per_user": True}, {"per_user": True, "scope": "user"}):
        refused = await token_client.post(
            f"{API}/budgets", json={**BODY, **body}, headers=bearer(tokens.u1)
        )
        assert refused.status_code == 403
        assert "a per-user budget applies to every user" in refused.json()["detail"]
    each = await _create(token_client, tokens.admin, threshold_usd="1.00", per_user=True)
    assert (each["scope"], each["user_id"], each["per_user"]) == ("user", None, True)

    async def status(token: str) -> list[tuple[str, str, Decimal, str]]:
        found = await token_client.get(f"{API}/budgets/status", headers=bearer(token))
        return [
            (b["id"], b["user_id"], Decimal(b["spend_usd"]), b["status"])
            for b in found.json()["items"]
        ]

    assert await status(tokens.admin) == [
        (each["id"], str(U1), Decimal("1.004620"), "exceeded"),
        (each["id"], str(U2), Decimal("0.015000"), "ok"),
    ]
    assert await status(tokens.u1) == [(each["id"], str(U1), Decimal("1.004620"), "exceeded")]
    assert await status(tokens.u2) == [(each["id"], str(U2), Decimal("0.015000"), "ok")]
    path, user = f"{API}/budgets/{each['id']}", bearer(tokens.u1)
    changed = await token_client.patch(path, json={"threshold_usd": "100"}, headers=user)
    deleted = await token_client.delete(path, headers=user)
    assert (changed.status_code, deleted.status_code) == (403, 403)
    listed = (await token_client.get(f"{API}/budgets", headers=user)).json()["items"]
    assert listed == []  # a user lists the budgets it owns
