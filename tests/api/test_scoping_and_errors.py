"""User scoping from the app's own dependency; bad input is a 4xx, never a 500; a database that
is unreachable, missing or without tables is a 503 on every route whose body names none of the
database's user, host, port or name."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from aa_notebooks.analytics.executions import MAX_PAGE
from aa_notebooks.api import create_app
from tests.api.conftest import ADMIN_TOKEN, bearer, every_request, http_client
from tests.api.dataset import U1, U2, A

API = "/api/analytics"
UNREACHABLE = "postgresql://zqlorduser:zqpassword@127.0.0.2:5999/zqvaultdb"
BODY = {"threshold_usd": 5, "alert_type": "warning"}  # valid: the database is what fails


async def test_results_are_scoped_to_the_callers_user(scoped_client: httpx.AsyncClient) -> None:
    first = (await scoped_client.get(f"{API}/overview", headers={"x-user": str(U1)})).json()
    assert (first["scope"], first["total_executions"], first["total_cost_usd"]) == (
        f"user {U1}", 2, "0.004620",
    )  # fmt: skip
    second = (await scoped_client.get(f"{API}/executions", headers={"x-user": str(U2)})).json()
    assert [row["id"] for row in second["items"]] == [str(A[3]), str(A[4])]
    hidden = await scoped_client.get(f"{API}/executions/{A[1]}", headers={"x-user": str(U2)})
    assert hidden.status_code == 404


@pytest.mark.parametrize(
    ("path", "params", "detail"),
    [
        ("/executions", {"agent_name": "plan\x00ner"}, "agent_name must not contain NUL"),
        ("/executions", {"model": "gpt\x00"}, "model must not contain NUL"),
        ("/agents/plan%00ner/stats", {}, "agent must not contain NUL"),
        ("/executions", {"page": str(2**63)}, "query.page: Input should be less than or equal"),
        ("/executions", {"page": str(MAX_PAGE + 1)}, "query.page: Input should be less than"),
        ("/executions", {"page_size": str(2**64)}, "query.page_size: Input should be less"),
        ("/overview", {"start_date": "0001-01-01", "end_date": "9999-12-31"},
         "start_date must be from 1900-01-01 to 2999-12-31; got 0001-01-01"),
        ("/costs/forecast", {"start_date": "2025-01-01", "end_date": "9999-12-31"},
         "end_date must be from 1900-01-01 to 2999-12-31; got 9999-12-31"),
        ("/overview", {"period": "9" * 30 + "d"}, "is longer than 36,500 days"),
    ],
)  # fmt: skip
async def test_bad_input_is_a_422_with_the_reason(
    client: httpx.AsyncClient, path: str, params: dict[str, str], detail: str
) -> None:
    response = await client.get(f"{API}{path}", params=params)
    assert response.status_code == 422
    assert detail in response.json()["detail"]


async def test_the_last_page_is_an_empty_page(client: httpx.AsyncClient) -> None:
    last = await client.get(f"{API}/executions", params={"page": MAX_PAGE, "page_size": 1000})
    assert (last.status_code, last.json()["items"], last.json()["total"]) == (200, [], 4)


async def test_nul_in_a_budget_is_a_422(client: httpx.AsyncClient) -> None:
    body = {"threshold_usd": 5, "alert_type": "warning", "name": "a\x00b"}
    refused = await client.post(f"{API}/budgets", json=body)
    assert refused.status_code == 422 and "name: must not contain NUL" in refused.json()["detail"]


@pytest.mark.parametrize(
    "body, where",
    [
        (b'{"threshold_usd": NaN, "alert_type": "warning"}', "threshold_usd"),
        (b'{"threshold_usd": 1e400, "alert_type": "warning"}', "threshold_usd"),
        (
            b'{"threshold_usd": 5, "alert_type": "warning", "alert_levels": [-Infinity]}',
            "alert_levels",
        ),
    ],
)
async def test_a_number_json_cannot_hold_is_a_422(
    client: httpx.AsyncClient, body: bytes, where: str
) -> None:
    """Python's json writes NaN and Infinity; the error repeating them answered 500."""
    headers = {"Content-Type": "application/json"}
    refused = await client.post(f"{API}/budgets", content=body, headers=headers)
    assert refused.status_code == 422 and where in refused.json()["detail"]


def _api_requests(app) -> list[tuple[str, str]]:
    return [(method, path) for method, path in every_request(app) if path.startswith(API)]


async def test_an_unreachable_database_is_a_503_naming_nothing() -> None:
    app = create_app(UNREACHABLE, api_token=ADMIN_TOKEN)
    async for http in http_client(app, bearer(ADMIN_TOKEN)):
        for method, path in _api_requests(app):
            response = await http.request(method, path, json=BODY)
            assert response.status_code == 503, (method, path, response.text)
            assert response.json() == {
                "detail": "the database is unreachable; the server's log has the detail"
            }
        schema = await http.get("/openapi.json")
        assert schema.status_code == 200


async def test_the_server_log_has_the_detail(caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(UNREACHABLE, api_token=ADMIN_TOKEN)
    async for http in http_client(app, bearer(ADMIN_TOKEN)):
        await http.get(f"{API}/budgets")
    logged = caplog.text
    assert "GET /api/analytics/budgets answered 503" in logged
    assert "zqlorduser:***@127.0.0.2:5999/zqvaultdb" in logged and "zqpassword" not in logged


async def test_a_missing_database_file_is_a_503_and_stays_missing(tmp_path: Path) -> None:
    path = tmp_path / "zqmissing.db"
    app = create_app(f"sqlite:///{path}", api_token=ADMIN_TOKEN)
    async for http in http_client(app, bearer(ADMIN_TOKEN)):
        for method, route in _api_requests(app):
            response = await http.request(method, route, json=BODY)
            assert response.status_code == 503, (method, route, response.text)
            detail = response.json()["detail"]
            assert "aa-notebooks init-db" in detail
            assert "zqmissing" not in detail and str(tmp_path) not in detail
    assert not path.exists()


async def test_a_database_without_tables_is_a_503_saying_so(empty_db_url: str) -> None:
    app = create_app(empty_db_url, api_token=ADMIN_TOKEN)
    private = empty_db_url.rsplit("/", 1)[1]  # the test database's own name
    async for http in http_client(app, bearer(ADMIN_TOKEN)):
        for method, path in _api_requests(app):
            response = await http.request(method, path, json=BODY)
            assert response.status_code == 503, (method, path, response.text)
            detail = response.json()["detail"]
            assert "aa-notebooks init-db" in detail, detail
            assert private not in detail and "aa_test" not in detail and "5432" not in detail
