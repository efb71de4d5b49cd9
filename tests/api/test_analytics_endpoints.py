"""Each analytics endpoint of the document, through the ASGI app, against the dataset's
answers worked out by hand (see tests/api/dataset.py). Money is a decimal string."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from urllib.parse import quote

import httpx

from aa_notebooks.budgets import record_execution
from aa_notebooks.db.records import AgentExecutionCreate
from tests.api.dataset import NOW, PLANNER, A

API = "/api/analytics"


async def test_overview(client: httpx.AsyncClient) -> None:
    week = (await client.get(f"{API}/overview")).json()
    assert week["window"]["label"] == "7d" and week["scope"] == "all users"
    assert week["total_executions"] == 4  # A5 is 10 days old
    assert week["executions_by_status"] == {"success": 2, "failure": 1, "timeout": 1}
    assert week["success_rate"] == 50.0
    assert week["avg_response_time_ms"] == 9000.0  # (1000 + 3000 + 2000 + 30000) / 4
    # Continuous percentiles of 1000, 2000, 3000, 30000.
    assert (week["p50_ms"], week["p95_ms"], week["p99_ms"]) == (2500.0, 25950.0, 29190.0)
    assert week["total_cost_usd"] == "0.019620"
    assert week["monthly_projection_usd"] == "0.084086"  # 0.01962 / 7 days x 30
    assert (week["input_tokens"], week["output_tokens"], week["total_tokens"]) == (3400, 1300, 4700)
    assert week["active_agents"] == 2

    day = (await client.get(f"{API}/overview", params={"period": "24h"})).json()
    assert (day["total_executions"], day["total_cost_usd"]) == (
        3,
        "0.019620",
    )  # A1, A2, A3 (at now-1d)
    dates = {"start_date": "2025-02-28", "end_date": "2025-03-07"}
    span = (await client.get(f"{API}/overview", params=dates)).json()
    assert (span["total_executions"], span["total_cost_usd"]) == (2, "1.000000")  # A4 and A5


async def test_bad_window_parameters_answer_422(client: httpx.AsyncClient) -> None:
    bad = await client.get(f"{API}/overview", params={"period": "7x"})
    assert bad.status_code == 422
    assert bad.json()["detail"].startswith("period must be 24h, 7d, 30d, 90d or any positive")
    both = await client.get(f"{API}/overview", params={"period": "7d", "start_date": "2025-03-01"})
    assert both.status_code == 422 and "period" in both.json()["detail"]
    not_a_date = await client.get(f"{API}/overview", params={"start_date": "March 1st"})
    assert not_a_date.status_code == 422
    assert not_a_date.json()["detail"].startswith("query.start_date: ")


async def test_executions_page_filters_and_sorting(client: httpx.AsyncClient) -> None:
    page = (await client.get(f"{API}/executions", params={"page": 1, "page_size": 2})).json()
    assert [row["id"] for row in page["items"]] == [str(A[1]), str(A[2])]
    assert (page["total"], page["page"], page["page_size"], page["pages"]) == (4, 1, 2, 2)
    first = page["items"][0]
    assert (first["status"], first["cost_usd"], first["started_at"]) == (
        "success", "0.004500", "2025-03-10T11:00:00+00:00",
    )  # fmt: skip

    failures = (await client.get(f"{API}/executions", params={"status": "failure"})).json()
    assert [row["id"] for row in failures["items"]] == [str(A[2])]
    planner = (await client.get(f"{API}/executions", params={"agent_id": str(PLANNER)})).json()
    assert [row["id"] for row in planner["items"]] == [str(A[1]), str(A[2])]
    cheapest = {"sort_by": "cost_usd", "sort_order": "asc"}
    by_cost = (await client.get(f"{API}/executions", params=cheapest)).json()
    assert [row["id"] for row in by_cost["items"]] == [str(A[n]) for n in (4, 2, 1, 3)]


async def test_executions_bad_parameters_answer_422(client: httpx.AsyncClient) -> None:
    sort = await client.get(f"{API}/executions", params={"sort_by": "password"})
    assert sort.status_code == 422 and sort.json()["detail"].startswith("sort_by must be one of")
    size = await client.get(f"{API}/executions", params={"page_size": 0})
    assert size.status_code == 422
    assert size.json()["detail"] == "query.page_size: Input should be greater than or equal to 1"
    status = await client.get(f"{API}/executions", params={"status": "ok"})
    assert status.status_code == 422 and "status" in status.json()["detail"]


async def test_execution_detail(client: httpx.AsyncClient) -> None:
    detail = (await client.get(f"{API}/executions/{A[1]}")).json()
    assert detail["execution"]["id"] == str(A[1]) and detail["execution"]["cost_usd"] == "0.004500"
    assert [(s["step_number"], s["step_type"]) for s in detail["traces"]] == [
        (1, "thought"), (2, "final_answer"),
    ]  # fmt: skip
    assert [(u["component"], u["cost_usd"]) for u in detail["token_usage"]] == [
        ("main_agent", "0.004500"),
    ]  # fmt: skip
    missing = await client.get(f"{API}/executions/00000000-0000-4000-8000-000000000099")
    assert (
        missing.status_code == 404
        and "00000000-0000-4000-8000-000000000099" in missing.json()["detail"]
    )
    assert (await client.get(f"{API}/executions/not-an-id")).status_code == 422


async def test_agent_stats_by_id_and_by_name(client: httpx.AsyncClient) -> None:
    planner = (await client.get(f"{API}/agents/{PLANNER}/stats")).json()
    assert (planner["agent_name"], planner["total_executions"], planner["success_rate"]) == (
        "planner", 2, 50.0,
    )  # fmt: skip
    assert planner["total_cost_usd"] == "0.004620"
    assert planner["models_used"] == ["gpt-4o", "gpt-4o-mini"]
    assert len(planner["daily"]) == 8 and planner["daily"][-1]["executions"] == 2
    writer = (await client.get(f"{API}/agents/writer/stats")).json()
    assert (writer["total_executions"], writer["total_cost_usd"]) == (2, "0.015000")
    unknown = await client.get(f"{API}/agents/nobody/stats")
    assert unknown.status_code == 404 and "'nobody'" in unknown.json()["detail"]


async def test_an_agent_whose_name_holds_a_slash(
    client: httpx.AsyncClient, loaded_url: str
) -> None:
    """The name travels as %2F, which the server decodes before routing: it used to be a 404."""
    name = "team/<planner>"
    record_execution(
        loaded_url,
        AgentExecutionCreate(agent_name=name, status="success", cost_usd="0.250000",
                             started_at=NOW - timedelta(hours=1)),
    )  # fmt: skip
    found = await client.get(f"{API}/agents/{quote(name, safe='')}/stats")
    assert found.status_code == 200
    assert (found.json()["agent_name"], found.json()["total_executions"]) == (name, 1)
    assert found.json()["total_cost_usd"] == "0.250000"


async def test_cost_summary_and_forecast(client: httpx.AsyncClient) -> None:
    by_model = (await client.get(f"{API}/costs/summary")).json()
    assert [(r["model"], r["executions"], r["cost_usd"]) for r in by_model["items"]] == [
        ("gpt-4o", 2, "0.019500"), ("gpt-4o-mini", 2, "0.000120"),
    ]  # fmt: skip
    by_agent = (await client.get(f"{API}/costs/summary", params={"by": "agent"})).json()
    assert [(r["agent_name"], r["cost_usd"]) for r in by_agent["items"]] == [
        ("writer", "0.015000"), ("planner", "0.004620"),
    ]  # fmt: skip
    assert (await client.get(f"{API}/costs/summary", params={"by": "colour"})).status_code == 422

    forecast = (await client.get(f"{API}/costs/forecast")).json()
    # March to date: A1-A4. Rate: the last 7 complete days (Mar 3-9) hold A3 and A4: 0.015 / 7.
    assert forecast["actual_to_date_usd"] == "0.019620"
    assert forecast["daily_rate_usd"] == "0.002143"
    assert forecast["remaining_days"] == 21.5  # Mar 10 12:00 to Apr 1
    assert forecast["projected_usd"] == "0.065691"  # 0.01962 + 0.015 / 7 x 21.5
    assert (forecast["low_usd"], forecast["high_usd"]) == ("0.019620", "0.342120")


async def test_model_comparison(client: httpx.AsyncClient) -> None:
    models = (await client.get(f"{API}/comparison/models")).json()["items"]
    compared = [(m["model"], m["executions"], m["success_rate"], m["avg_cost_usd"]) for m in models]
    assert compared == [("gpt-4o", 2, 100.0, "0.009750"), ("gpt-4o-mini", 2, 0.0, "0.000060")]
    assert models[1]["cost_per_success_usd"] is None  # no success: unknown, not zero


async def test_export_csv_and_json(client: httpx.AsyncClient) -> None:
    as_csv = await client.get(f"{API}/export", params={"format": "csv", "period": "30d"})
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in as_csv.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert sorted(row["id"] for row in rows) == sorted(str(A[n]) for n in range(1, 6))

    as_json = await client.get(f"{API}/export", params={"format": "json", "include_traces": True})
    exported = json.loads(as_json.text)
    assert as_json.headers["content-type"] == "application/json"
    assert len(exported) == 4
    assert (await client.get(f"{API}/export", params={"format": "xml"})).status_code == 422
