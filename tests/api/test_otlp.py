"""`POST /v1/traces` on the API app (SQLite and PostgreSQL): protobuf, OTLP/JSON, gzip, the
same tokens as the API, OTLP's answers (partial success, 400 writing nothing, 401, 415)."""

from __future__ import annotations

import gzip
import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from sqlalchemy import text

from aa_notebooks.analytics import connect
from aa_notebooks.api import Principal, create_app, otlp_route
from aa_notebooks.api.tokens import TOKEN_PREFIX, create_token
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.setup import init_db
from aa_notebooks.otel.mapping import Filing, execution_id
from tests.api.conftest import ADMIN_TOKEN, bearer
from tests.cli.test_database_commands import document_sqlite
from tests.otel.builders import TRACE, genai_run, to_json, to_protobuf

USER = uuid.UUID("11111111-2222-4333-8444-555555555555")
RUN_ID = execution_id(TRACE, "a000000000000001")
PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def otlp_app(db_url: str) -> Iterator[FastAPI]:
    init_db(db_url)
    app = create_app(db_url, api_token=ADMIN_TOKEN)
    yield app
    app.state.otlp.close()


@pytest.fixture
async def http(otlp_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=otlp_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client


def _flush(app: FastAPI) -> None:
    assert app.state.otlp.ingestor.flush(30)


def _counts(url: str) -> tuple[int, int, int]:
    with get_engine(url).connect() as connection:
        return tuple(  # type: ignore[return-value]
            connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
            for table in ("agentexecutions", "executiontraces", "tokenusages")
        )


async def test_a_gzipped_protobuf_request_becomes_the_run(
    http: httpx.AsyncClient, otlp_app: FastAPI, db_url: str
) -> None:
    body = gzip.compress(to_protobuf(genai_run()))
    answer = await http.post(
        "/v1/traces", content=body, headers={**PROTOBUF, **bearer(ADMIN_TOKEN),
                                             "Content-Encoding": "gzip"},
    )  # fmt: skip
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/x-protobuf"
    response = ExportTraceServiceResponse.FromString(answer.content)
    assert not response.HasField("partial_success")
    _flush(otlp_app)
    row = connect(db_url).execution(RUN_ID).execution
    assert (row["agent_name"], row["model_name"], row["user_id"]) == ("Weather", "gpt-4o", None)
    assert (row["input_tokens"], row["output_tokens"]) == (2500, 300)
    assert Decimal(str(row["cost_usd"])) == Decimal("0.00499")  # cache reads at their rate
    assert _counts(db_url) == (1, 4, 2)


async def test_json_resent_doubles_nothing_and_a_user_token_files_under_its_user(
    http: httpx.AsyncClient, otlp_app: FastAPI, db_url: str
) -> None:
    user_token = create_token(db_url, Principal.of_user(USER)).token
    other = str(uuid.UUID("99999999-2222-4333-8444-555555555555"))
    for _ in range(2):
        answer = await http.post(
            "/v1/traces", content=to_json(genai_run(user=other)),
            headers={**JSON, **bearer(user_token)},
        )  # fmt: skip
        assert (answer.status_code, answer.json()) == (200, {})
    _flush(otlp_app)
    assert _counts(db_url) == (1, 4, 2)
    row = connect(db_url).execution(execution_id(TRACE, "a000000000000001", Filing(USER)))
    assert row.execution["user_id"] == USER


async def test_children_before_their_parent_in_separate_requests_make_one_run(
    http: httpx.AsyncClient, otlp_app: FastAPI, db_url: str
) -> None:
    root, *children = genai_run()
    for part in (children, [root]):
        answer = await http.post(
            "/v1/traces", content=to_protobuf(part), headers={**PROTOBUF, **bearer(ADMIN_TOKEN)}
        )
        assert answer.status_code == 200
    _flush(otlp_app)
    assert _counts(db_url) == (1, 4, 2)
    assert connect(db_url).execution(RUN_ID).execution["agent_name"] == "Weather"


async def test_unusable_spans_are_a_partial_success(
    http: httpx.AsyncClient, otlp_app: FastAPI, db_url: str
) -> None:
    document = json.loads(to_json(genai_run()))
    spans = document["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans[3]["spanId"] = "00000000000000zz"  # the HTTP span: its id is not hex
    answer = await http.post(
        "/v1/traces", content=json.dumps(document), headers={**JSON, **bearer(ADMIN_TOKEN)}
    )
    assert answer.status_code == 200
    partial = answer.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "1"
    assert partial["errorMessage"] == "span 'GET': span id must be 8 bytes, not all zero"
    _flush(otlp_app)
    assert _counts(db_url) == (1, 4, 2)


async def test_strings_that_are_not_utf8_are_repaired_not_the_batch_refused(
    http: httpx.AsyncClient, otlp_app: FastAPI, db_url: str
) -> None:
    """An exporter passing bytes through unchecked sent a tool result in Latin-1: protobuf
    refused the whole request (400, which exporters do not retry), and all three runs in it
    were lost. The text is repaired (U+FFFD) and every run written."""
    traces = [TRACE, "5bf92f3577b34da6a3ce929d0e0e4737", "6bf92f3577b34da6a3ce929d0e0e4738"]
    body = to_protobuf([span for trace in traces for span in genai_run(trace)])
    body = body.replace(b"sunny", b"caf\xe9!", 1)  # as long: the framing holds
    answer = await http.post(
        "/v1/traces", content=body, headers={**PROTOBUF, **bearer(ADMIN_TOKEN)}
    )
    assert answer.status_code == 200
    _flush(otlp_app)
    assert _counts(db_url) == (3, 12, 6)
    contents = connect(db_url).execution(RUN_ID).traces["content"].tolist()
    assert "caf\ufffd!" in contents


@pytest.mark.parametrize(
    ("headers", "body", "status", "message"),
    [
        (PROTOBUF, b"\xff\xff\xff", 400, "the body is not an OTLP protobuf trace request"),
        (JSON, b"{not json", 400, "the body is not JSON"),
        (JSON, b'{"resourceSpans":[1]}', 400, "the request is not an OTLP/JSON trace request"),
        (JSON, b"[" * 100_000 + b"]" * 100_000, 400, "the body's JSON is nested too deeply"),
        ({**JSON, "Content-Encoding": "gzip"}, b"plain", 400, "the body is not valid gzip"),
        ({**JSON, "Content-Encoding": "br"}, b"{}", 400, "Content-Encoding 'br' is not supported"),
        ({"Content-Type": "text/plain"}, b"hi", 415, "Content-Type must be application/x-"),
    ],
)
async def test_a_body_that_cannot_be_parsed_writes_nothing(
    http: httpx.AsyncClient,
    otlp_app: FastAPI,
    db_url: str,
    headers: dict[str, str],
    body: bytes,
    status: int,
    message: str,
) -> None:
    answer = await http.post("/v1/traces", content=body, headers={**headers, **bearer(ADMIN_TOKEN)})
    assert answer.status_code == status
    if headers.get("Content-Type") == PROTOBUF["Content-Type"]:
        from google.rpc.status_pb2 import Status

        detail = Status.FromString(answer.content)
        assert (detail.code, detail.message.startswith(message)) == (3, True)
    else:
        assert answer.json()["message"].startswith(message), answer.json()
    _flush(otlp_app)
    assert _counts(db_url) == (0, 0, 0)


@pytest.mark.parametrize("token", [None, "wrong-token-of-the-tests-0123456789"])
async def test_without_a_valid_token_nothing_is_read(
    http: httpx.AsyncClient, db_url: str, token: str | None
) -> None:
    headers = {**PROTOBUF, **(bearer(token) if token else {})}
    answer = await http.post("/v1/traces", content=to_protobuf(genai_run()), headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert _counts(db_url) == (0, 0, 0)


@pytest.mark.parametrize("backend", ["sqlite"])  # an exclusive lock from another connection
async def test_a_writer_that_cannot_keep_up_is_a_429_with_retry_after(
    http: httpx.AsyncClient, otlp_app: FastAPI, db_url: str, tmp_path
) -> None:
    """Back-pressure: with one execution allowed in the writer's backlog and the database
    locked by another connection, the next request is refused until the writer catches up."""
    import sqlite3

    from aa_notebooks.otel.ingest import Ingestor

    receiver = otlp_app.state.otlp
    receiver._ingestor = Ingestor(db_url, spool_dir=tmp_path, max_backlog=1, max_wait_s=0.2)
    headers = {**PROTOBUF, **bearer(ADMIN_TOKEN)}
    lock = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        first = await http.post("/v1/traces", content=to_protobuf(genai_run()), headers=headers)
        second_run = genai_run("5bf92f3577b34da6a3ce929d0e0e4737")
        second = await http.post("/v1/traces", content=to_protobuf(second_run), headers=headers)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert first.status_code == 200
    assert (second.status_code, second.headers["retry-after"]) == (429, "2")
    from google.rpc.status_pb2 import Status

    assert Status.FromString(second.content).message == (
        "the database is behind by more than 1 executions"
    )
    _flush(otlp_app)
    again = await http.post("/v1/traces", content=to_protobuf(second_run), headers=headers)
    assert again.status_code == 200
    _flush(otlp_app)
    assert _counts(db_url) == (2, 8, 4)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_partial_trace_while_another_process_writes_is_a_503_before_exporters_give_up(
    http: httpx.AsyncClient, otlp_app: FastAPI, db_url: str
) -> None:
    """A seed or a rollups rebuild holding SQLite's write lock kept a request to stage spans
    waiting the whole busy timeout (10 s), as long as an exporter waits (its default): it gave
    up without retrying, and the run was recorded without its LLM call at $0."""
    import sqlite3
    import time

    root, *children = genai_run()
    headers = {**PROTOBUF, **bearer(ADMIN_TOKEN)}
    lock = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        refused = await http.post("/v1/traces", content=to_protobuf(children), headers=headers)
        waited = time.monotonic() - started
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert (refused.status_code, "retry-after" in refused.headers) == (503, True)
    assert waited < 8  # under an exporter's 10 s: it retries (the wait is 3 s, not 10 s)
    with get_engine(db_url).connect() as connection:  # pooled connections wait 10 s again
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
    for part in (children, [root]):  # the exporter's retry, then the root
        answer = await http.post("/v1/traces", content=to_protobuf(part), headers=headers)
        assert answer.status_code == 200
    _flush(otlp_app)
    assert _counts(db_url) == (1, 4, 2)


async def test_a_body_over_the_limit_is_refused_unread(
    http: httpx.AsyncClient, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aa_notebooks.api import otlp_route

    monkeypatch.setattr(otlp_route, "MAX_BODY_BYTES", 100)
    body = to_json(genai_run())
    assert len(body) > 100
    answer = await http.post("/v1/traces", content=body, headers={**JSON, **bearer(ADMIN_TOKEN)})
    assert (answer.status_code, answer.json()["message"]) == (
        413, "the body is over 100 bytes; send smaller batches",
    )  # fmt: skip
    assert _counts(db_url) == (0, 0, 0)


async def test_a_gzipped_body_that_inflates_past_the_limit_is_a_413_too(
    http: httpx.AsyncClient, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small gzip body that inflates past the limit was a 400, where the docs say 413."""
    from aa_notebooks.otel import decode

    monkeypatch.setattr(decode, "MAX_BODY_BYTES", 100)
    body = gzip.compress(to_json(genai_run()))
    headers = {**JSON, **bearer(ADMIN_TOKEN), "Content-Encoding": "gzip"}
    answer = await http.post("/v1/traces", content=body, headers=headers)
    assert (answer.status_code, answer.json()["message"]) == (
        413, "the body inflates past 100 bytes; send smaller batches",
    )  # fmt: skip
    assert _counts(db_url) == (0, 0, 0)


async def test_an_incomplete_trace_is_written_after_the_configured_hold(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the children arrive; AA_OTEL_HOLD_SECONDS=0.5 writes what is known soon after."""
    import time

    monkeypatch.setenv("AA_OTEL_HOLD_SECONDS", "0.5")
    init_db(db_url)
    app = create_app(db_url, api_token=ADMIN_TOKEN)
    try:
        await _send_children_only(app)
        for _ in range(300):  # the sweeper runs every 0.5 s
            if _counts(db_url)[0]:
                break
            time.sleep(0.1)
        _flush(app)
    finally:
        app.state.otlp.close()
    assert _counts(db_url) == (1, 4, 2)
    row = connect(db_url).execution(RUN_ID).execution  # anchored at the missing agent span
    assert (row["agent_name"], row["input_tokens"], row["output_tokens"]) == (None, 2500, 300)


async def test_a_restarted_server_writes_what_it_held_without_new_traces(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server stopped while holding a trace's children: the next one started its sweeper only
    on its first request, so the run stayed out of every figure until another trace came."""
    import asyncio

    init_db(db_url)
    first = create_app(db_url, api_token=ADMIN_TOKEN)
    try:
        await _send_children_only(first)
    finally:
        first.state.otlp.close()  # stopped within the 60 s hold: the children stay staged
    assert _counts(db_url) == (0, 0, 0)
    monkeypatch.setenv("AA_OTEL_HOLD_SECONDS", "0.5")
    restarted = create_app(db_url, api_token=ADMIN_TOKEN)
    async with restarted.router.lifespan_context(restarted):  # started; no request comes
        for _ in range(300):
            if _counts(db_url)[0]:
                break
            await asyncio.sleep(0.1)
        _flush(restarted)
    assert _counts(db_url) == (1, 4, 2)


async def _send_children_only(app: FastAPI) -> None:
    """Post a run's spans but its agent span: the receiver holds them."""
    async for client in _client(app):
        _, *children = genai_run()
        answer = await client.post(
            "/v1/traces", content=to_protobuf(children),
            headers={**PROTOBUF, **bearer(ADMIN_TOKEN)},
        )  # fmt: skip
        assert answer.status_code == 200


def test_a_server_on_an_agentos_database_starts_without_a_word_on_held_traces(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Such a database has no staging tables, so nothing can be held: `serve` logged "no such
    table: otelstagedtraces" with the SQL at every start."""
    receiver = otlp_route.OtlpReceiver(document_sqlite(tmp_path / "agentos.db"))
    with caplog.at_level(logging.WARNING):
        receiver.resume_held()
    receiver.close()
    assert caplog.messages == []


async def _client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client


@pytest.mark.parametrize("value", ["0", "-3", "soon", "inf"])
def test_a_hold_that_is_not_a_positive_number_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    from aa_notebooks.api.otlp_route import hold_seconds
    from aa_notebooks.errors import ConfigurationError

    monkeypatch.setenv("AA_OTEL_HOLD_SECONDS", value)
    with pytest.raises(ConfigurationError) as raised:
        hold_seconds()
    assert str(raised.value) == (
        f"AA_OTEL_HOLD_SECONDS must be a number of seconds above 0, not {value!r}"
    )


def test_connection_turns_keep_the_recent_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every 3rd request of a connection closes it. Past 2 connections counted, the one heard
    from least recently is forgotten: a busy collector's count survives short connections
    coming and going, and a forgotten connection counts from 1 again."""
    monkeypatch.setattr(otlp_route, "REQUESTS_PER_CONNECTION", 3)
    monkeypatch.setattr(otlp_route, "_MAX_CONNECTIONS_COUNTED", 2)
    receiver = otlp_route.OtlpReceiver(None)
    collector, first, second = ("10.0.0.1", 5000), ("10.0.0.2", 6000), ("10.0.0.3", 7000)
    turns = [receiver.last_on_connection(client) for client in (
        collector, first, collector, second, collector,  # `second` pushes `first` out
        first, first, first,  # `first` from 1 again: its 3rd request now
        None,  # no client address: never closed
    )]  # fmt: skip
    assert turns == [False, False, False, False, True, False, False, True, False]


async def test_a_user_token_while_the_database_is_down_is_a_503_to_retry() -> None:
    """The token is looked up in the database: when it is down, exporters are told to retry
    (they drop the spans of a 500)."""
    app = create_app("postgresql://zquser:zqpw@127.0.0.2:5999/zqdb", api_token=ADMIN_TOKEN)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            headers = {**PROTOBUF, **bearer(TOKEN_PREFIX + "a-user-token-0123456789")}
            answer = await client.post(
                "/v1/traces", content=to_protobuf(genai_run()), headers=headers
            )
    finally:
        app.state.otlp.close()
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == str(otlp_route.UNAVAILABLE_RETRY_S)
    assert "zqpw" not in answer.text and "127.0.0.2" not in answer.text
