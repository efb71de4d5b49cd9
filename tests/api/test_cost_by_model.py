"""`GET /api/analytics/costs/summary` splits costs by the token usage rows.

Numbers: tests/analytics/test_cost_by_model.py (the usage dataset, 7d window); money is a
decimal string.
"""

from __future__ import annotations

import httpx

from aa_notebooks.api import create_app
from tests.analytics import usage_dataset
from tests.analytics.usage_dataset import CLAUDE, MINI, NOW, UNPRICED


def every_user() -> None:
    """The host's authentication, as a test stands in for it: the caller sees every user."""
    return None


async def test_costs_summary_by_model(db_url: str) -> None:
    usage_dataset.load(db_url)
    app = create_app(db_url, user_dependency=every_user, now=lambda: NOW)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        body = (await http.get("/api/analytics/costs/summary", params={"by": "model"})).json()
    assert [
        (r["model"], r["executions"], r["input_tokens"], r["output_tokens"], r["cost_usd"])
        for r in body["items"]
    ] == [
        ("gpt-4o", 2, 1000, 280, "0.008473"),
        (CLAUDE, 2, 500, 150, "0.005100"),
        (MINI, 5, 860, 310, "0.001273"),
        (UNPRICED, 1, 50, 10, "0.000000"),
        (None, 1, 0, 0, "0.000000"),
    ]
    assert body["notes"] == [
        f"Unpriced models (their calls count as $0): {UNPRICED}",
        "Cost coverage: 98.1% of tokens are priced by a known price",  # 3,100 of 3,160
    ]
