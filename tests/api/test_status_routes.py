"""`GET /budgets/status`: each visible active budget's spend in its window, percent used, status
and projected exhaustion, worked out by hand from tests/api/dataset.py at NOW, and a database
that is exactly as it was after the call (nothing written back, no alert recorded).

Spend at NOW: planner and U1 ran A1 0.004500 + A2 0.000120 + A5 1.000000 (10 days ago) =
1.004620 in 30 days; the last 7 days hold A1-A4 = 0.019620. Projection: now + remaining /
(spend / period_days).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from aa_notebooks.budgets import create_budget
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import Base
from tests.api.conftest import Tokens, bearer
from tests.api.dataset import NOW, U1, U2

API = "/api/analytics"


@pytest.fixture
def budgets(loaded_url: str) -> dict[str, str]:
    """A U1 user budget, a planner agent budget, a global hard stop, and an inactive one."""
    made = {
        "u1": create_budget(loaded_url, name="u1", scope="user", user_id=U1,
                            threshold_usd="1.50", alert_type="warning"),
        "agent": create_budget(loaded_url, name="planner", scope="agent", target="planner",
                               threshold_usd="1.20", alert_type="warning"),
        "global": create_budget(loaded_url, name="org", scope="global", threshold_usd="0.01",
                                period_days=7, alert_type="hard_stop"),
        "off": create_budget(loaded_url, name="off", scope="user", user_id=U2,
                             threshold_usd="1", alert_type="warning", is_active=False),
    }  # fmt: skip
    return {name: str(budget.id) for name, budget in made.items()}


def _snapshot(url: str) -> dict[str, list[str]]:
    """Every row of every table of the kit, as sorted text."""
    with get_engine(url).connect() as connection:
        return {
            table.name: sorted(repr(tuple(row)) for row in connection.execute(select(table)))
            for table in Base.metadata.sorted_tables
        }


async def _status(http: httpx.AsyncClient, token: str) -> dict[str, dict[str, Any]]:
    response = await http.get(f"{API}/budgets/status", headers=bearer(token))
    assert response.status_code == 200, response.text
    return {item["id"]: item for item in response.json()["items"]}


async def test_the_numbers_are_the_hand_computed_ones(
    token_client: httpx.AsyncClient, tokens: Tokens, budgets: dict[str, str], loaded_url: str
) -> None:
    before = _snapshot(loaded_url)
    shown = await _status(token_client, tokens.admin)
    assert set(shown) == {budgets["u1"], budgets["agent"], budgets["global"]}  # active ones

    def numbers(item: dict[str, Any]) -> tuple[Any, ...]:
        return (
            Decimal(item["spend_usd"]), item["percent_used"], item["status"],
            Decimal(item["remaining_usd"]), Decimal(item["daily_burn_usd"]),
            item["projected_exhaustion"], item["blocking"],
        )  # fmt: skip

    assert numbers(shown[budgets["u1"]]) == (
        Decimal("1.00462"), 66.97, "ok", Decimal("0.49538"), Decimal("0.033487"),
        (NOW + timedelta(seconds=1_278_120)).isoformat(), False,
    )  # fmt: skip
    assert numbers(shown[budgets["agent"]]) == (
        Decimal("1.00462"), 83.72, "warning", Decimal("0.19538"), Decimal("0.033487"),
        (NOW + timedelta(seconds=504_096)).isoformat(), False,
    )  # fmt: skip
    assert numbers(shown[budgets["global"]]) == (
        Decimal("0.01962"), 196.2, "exceeded", Decimal(0), Decimal("0.002803"),
        NOW.isoformat(), True,
    )  # fmt: skip
    org = shown[budgets["global"]]
    assert (org["window_start"], org["window_end"]) == (
        (NOW - timedelta(days=7)).isoformat(), NOW.isoformat(),
    )  # fmt: skip
    assert (org["threshold_usd"], org["period_days"], org["alert_type"]) == ("0.01", 7, "hard_stop")
    assert _snapshot(loaded_url) == before  # read only: no spend written back, no event


async def test_a_user_sees_only_its_own_user_budgets(
    token_client: httpx.AsyncClient, tokens: Tokens, budgets: dict[str, str]
) -> None:
    mine = await _status(token_client, tokens.u1)
    assert list(mine) == [budgets["u1"]]
    assert Decimal(mine[budgets["u1"]]["spend_usd"]) == Decimal("1.00462")
    assert await _status(token_client, tokens.u2) == {}  # U2's only budget is inactive
