"""User scoping from the app's own dependency, and a database that is not there (503)."""

from __future__ import annotations

import httpx
import pytest

from aa_notebooks.api import create_app
from tests.api.dataset import U1, U2, A

API = "/api/analytics"


async def test_results_are_scoped_to_the_callers_user(scoped_client: httpx.AsyncClient) -> None:
    first = (await scoped_client.get(f"{API}/overview", headers={"x-user": str(U1)})).json()
    assert (first["scope"], first["total_executions"], first["total_cost_usd"]) == (
        f"user {U1}", 2, "0.004620",
    )  # fmt: skip
    second = (await scoped_client.get(f"{API}/executions", headers={"x-user": str(U2)})).json()
    assert [row["id"] for row in second["items"]] == [str(A[3]), str(A[4])]
    hidden = await scoped_client.get(f"{API}/executions/{A[1]}", headers={"x-user": str(U2)})
    assert hidden.status_code == 404
    everyone = (await scoped_client.get(f"{API}/overview")).json()  # the dependency gave None
    assert everyone["total_executions"] == 4


@pytest.mark.parametrize("path", ["/overview", "/executions", "/budgets"])
async def test_no_database_answers_503_with_the_fix(tmp_path, path: str) -> None:
    app = create_app(f"sqlite:///{tmp_path / 'missing.db'}")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        response = await http.get(f"{API}{path}")
    assert response.status_code == 503
    assert "aa-notebooks init-db" in response.json()["detail"]
