"""`AnalyticsMiddleware` through real ASGI apps (FastAPI and plain Starlette): one execution per
agent request, fields from route, headers, state and body, status from the response, steps
added by handlers through `current_run()`, timeouts, hard stops, and routes left alone."""

from __future__ import annotations

import asyncio
import importlib
import sys
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from aa_notebooks.budgets import create_budget
from aa_notebooks.errors import MissingExtraError
from aa_notebooks.tracking import AnalyticsMiddleware, Tracker, current_run
from aa_notebooks.tracking.ids import SESSION_NAMESPACE
from tests.tracking.conftest import executions, steps, usages

ALICE = uuid.UUID("a11ce000-0000-4000-8000-000000000001")
BOB = uuid.UUID("b0b00000-0000-4000-8000-000000000002")


def agent_app(tracker: Tracker, **options: Any) -> FastAPI:
    """An agent service: a few agent routes, a health route, and an auth layer setting state."""
    app = FastAPI()

    @app.post("/agents/{agent_name}/run")
    async def run_agent(agent_name: str, body: dict[str, Any]) -> dict[str, str]:
        run = current_run()
        assert run is not None
        step = run.step("thought", f"{agent_name} thinks about {body['query']}")
        run.tokens("main_agent", "gpt-4o", 1200, 300, step_number=step)
        return {"answer": "42"}

    @app.get("/agents/{agent_name}/sync")
    def sync_agent(agent_name: str) -> dict[str, str]:
        current_run().step("final_answer", "from the threadpool")  # type: ignore[union-attr]
        return {"answer": "sync"}

    @app.get("/agents/{agent_name}/unavailable")
    async def unavailable(agent_name: str) -> None:
        raise HTTPException(503, "model overloaded")

    @app.get("/agents/{agent_name}/crash")
    async def crash(agent_name: str) -> None:
        raise RuntimeError("boom")

    @app.get("/agents/{agent_name}/slow")
    async def slow(agent_name: str) -> None:
        await asyncio.sleep(5)

    @app.get("/health")
    async def health() -> str:
        return "ok"

    app.add_middleware(AnalyticsMiddleware, tracker=tracker, **options)

    async def auth(scope: dict[str, Any], receive: Any, send: Any) -> None:
        token = dict(scope.get("headers", [])).get(b"authorization")
        if scope["type"] == "http" and token == b"Bearer bob":
            scope.setdefault("state", {})["user_id"] = str(BOB)
        await inner(scope, receive, send)

    inner = app.build_middleware_stack()
    app.middleware_stack = auth  # the auth layer runs outside the analytics middleware
    return app


@pytest.fixture
async def client(tracker: Tracker) -> AsyncIterator[httpx.AsyncClient]:
    app = agent_app(tracker, routes=["/agents"], timeout_s=0.2)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://agents") as http:
        yield http


async def test_an_agent_request_is_recorded_with_its_steps(
    db_url: str, tracker: Tracker, client: httpx.AsyncClient
) -> None:
    headers = {"x-user-id": str(ALICE), "x-session-id": "chat-1"}
    response = await client.post(
        "/agents/researcher/run", json={"query": "refund?"}, headers=headers
    )
    assert response.status_code == 200 and response.json() == {"answer": "42"}
    assert (await client.get("/health")).status_code == 200  # not an agent route
    tracker.flush()
    [row] = executions(db_url)
    assert (row["agent_name"], row["status"].value, row["query_preview"]) == (
        "researcher", "success", "refund?",
    )  # fmt: skip
    assert row["user_id"] == ALICE
    assert row["session_id"] == uuid.uuid5(SESSION_NAMESPACE, "chat-1")
    assert row["cost_usd"] == Decimal("0.006000") and row["total_tokens"] == 1500
    assert [s["content"] for s in steps(db_url, row["id"])] == ["researcher thinks about refund?"]
    assert len(usages(db_url, row["id"])) == 1


async def test_user_from_request_state_and_a_sync_handler(
    db_url: str, tracker: Tracker, client: httpx.AsyncClient
) -> None:
    response = await client.get(
        "/agents/writer/sync?q=draft", headers={"authorization": "Bearer bob"}
    )
    assert response.status_code == 200
    tracker.flush()
    [row] = executions(db_url)
    assert (row["user_id"], row["query_preview"]) == (BOB, "draft")
    assert [s["content"] for s in steps(db_url, row["id"])] == ["from the threadpool"]


async def test_status_errors_and_timeouts(
    db_url: str, tracker: Tracker, client: httpx.AsyncClient
) -> None:
    assert (await client.get("/agents/a/unavailable")).status_code == 503
    assert (await client.get("/agents/b/crash")).status_code == 500
    slow = await client.get("/agents/c/slow")
    assert slow.status_code == 504 and "did not answer within 0.2 s" in slow.json()["detail"]
    tracker.flush()
    outcomes = {row["agent_name"]: (row["status"].value, row["error_type"], row["error_message"])
                for row in executions(db_url)}  # fmt: skip
    assert outcomes == {
        "a": ("failure", "HTTP 503", "Service Unavailable"),
        "b": ("failure", "RuntimeError", "boom"),
        "c": ("timeout", "TimeoutError", "cancelled at the 0.2 s limit"),
    }


async def test_a_bad_user_header_does_not_fail_the_request(
    db_url: str, tracker: Tracker, client: httpx.AsyncClient
) -> None:
    response = await client.get("/agents/a/sync", headers={"x-user-id": "not-a-uuid"})
    assert response.status_code == 200
    tracker.flush()
    [row] = executions(db_url)
    assert row["user_id"] is None and row["status"].value == "success"


async def test_a_spent_hard_stop_answers_402_and_records_nothing(
    db_url: str, tracker: Tracker, client: httpx.AsyncClient
) -> None:
    create_budget(db_url, name="cap", threshold_usd=Decimal("0.01"), alert_type="hard_stop",
                  period_days=1, scope="agent", target="researcher")  # fmt: skip
    for _ in range(2):
        await client.post("/agents/researcher/run", json={"query": "spend"})
    tracker.flush()
    refused = await client.post("/agents/researcher/run", json={"query": "more"})
    assert refused.status_code == 402 and "'cap' is exceeded" in refused.json()["detail"]
    assert (await client.post("/agents/writer/run", json={"query": "ok"})).status_code == 200
    tracker.flush()
    assert [row["query_preview"] for row in executions(db_url)] == ["spend", "spend", "ok"]


async def test_defaults_record_every_route_but_the_analytics_api(
    db_url: str, tracker: Tracker
) -> None:
    async def endpoint(request: Request) -> PlainTextResponse:
        return PlainTextResponse("done")

    app = Starlette(routes=[Route("/chat", endpoint), Route("/api/analytics/overview", endpoint)])
    app.add_middleware(AnalyticsMiddleware, tracker=tracker, agent_name="chatbot", model="gpt-4o")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://agents") as http:
        assert (await http.get("/chat?query=hello")).text == "done"
        assert (await http.get("/api/analytics/overview")).text == "done"
    tracker.flush()
    [row] = executions(db_url)
    assert (row["agent_name"], row["model_name"], row["query_preview"]) == (
        "chatbot",
        "gpt-4o",
        "hello",
    )


async def test_by_default_the_frameworks_pages_and_probes_are_left_alone(
    db_url: str, tracker: Tracker
) -> None:
    """FastAPI's /docs and /openapi.json and the app's /health were each recorded as an agent;
    under a spent global hard stop the health check was answered 402, failing the app's probe."""
    app = agent_app(tracker)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://agents") as http:
        pages = [(await http.get(path)).status_code for path in ("/docs", "/openapi.json")]
        for _ in range(2):  # $0.006 each
            assert (
                await http.post("/agents/researcher/run", json={"query": "q"})
            ).status_code == 200
        tracker.flush()
        create_budget(db_url, name="all", threshold_usd=Decimal("0.01"), alert_type="hard_stop",
                      period_days=1)  # fmt: skip
        health = (await http.get("/health")).status_code
        refused = (await http.post("/agents/researcher/run", json={"query": "q"})).status_code
        behind_a_proxy = httpx.ASGITransport(app=app, root_path="/svc")
        async with httpx.AsyncClient(transport=behind_a_proxy, base_url="http://agents") as proxied:
            health_behind = (await proxied.get("/svc/health")).status_code
    assert (pages, health, refused, health_behind) == ([200, 200], 200, 402, 200)
    tracker.flush()
    assert [row["agent_name"] for row in executions(db_url)] == ["researcher", "researcher"]


async def test_only_requests_that_reach_a_route_are_recorded(db_url: str, tracker: Tracker) -> None:
    """Unmatched paths (404), a method the route does not serve (405) and a path under a mounted
    router that none of its routes takes pass unrecorded; a 404 the handler itself answers (the
    agent ran and found nothing) and a route inside the mount are recorded."""

    async def endpoint(request: Request) -> PlainTextResponse:
        found = request.path_params.get("agent_name") != "ghost"
        return PlainTextResponse("done" if found else "no such agent", 200 if found else 404)

    inner = Starlette(routes=[Route("/{agent_name}/ask", endpoint, methods=["POST"])])
    app = Starlette(routes=[Route("/chat", endpoint, methods=["GET"]), Mount("/agents", inner)])
    app.add_middleware(AnalyticsMiddleware, tracker=tracker)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://agents") as http:
        answered = [
            (await http.get("/wp-login.php")).status_code,
            (await http.get("/.env")).status_code,
            (await http.post("/chat")).status_code,
            (await http.get("/agents/researcher/ask")).status_code,
            (await http.post("/agents/researcher/nothing")).status_code,
            (await http.post("/agents/researcher/ask")).status_code,
            (await http.post("/agents/ghost/ask")).status_code,
            (await http.get("/chat")).status_code,
        ]
    assert answered == [404, 404, 405, 405, 404, 200, 404, 200]
    tracker.flush()
    recorded = [(row["agent_name"], row["status"].value, row["error_type"])
                for row in executions(db_url)]  # fmt: skip
    assert recorded == [
        ("researcher", "success", None),
        ("ghost", "failure", "HTTP 404"),
        ("endpoint", "success", None),
    ]


def test_without_starlette_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "starlette.responses", None)
    monkeypatch.delitem(sys.modules, "aa_notebooks.tracking.middleware")
    with pytest.raises(MissingExtraError, match=r"pip install 'aa-notebooks\[api\]'"):
        importlib.import_module("aa_notebooks.tracking.middleware")
