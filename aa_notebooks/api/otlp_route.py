"""`POST /v1/traces`: the OTLP/HTTP trace receiver, behind the API's own bearer tokens.

Bodies are `application/x-protobuf` or `application/json` (OTLP/JSON), gzip or not. Answers as
OTLP/HTTP specifies, in the request's encoding: 200 with an ExportTraceServiceResponse (its
`partial_success` counting the spans that could not be used, with the first reasons); 400 with a
google.rpc.Status for a body that cannot be parsed (nothing is written); 415 for another content
type; 429 or 503 with `Retry-After` while the writer is saturated or the database is down with
its spool's disk nearly full, so exporters retry. A user token files executions under its user;
an admin token keeps the user the spans name.
"""

# No `from __future__ import annotations`: FastAPI reads the route's annotations at run time.
import functools
import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool

from aa_notebooks.api.bodies import bounded_body
from aa_notebooks.api.principal import Principal
from aa_notebooks.db.engine import connection_errors, get_engine
from aa_notebooks.errors import (
    AnalyticsError,
    ConfigurationError,
    DatabaseUnavailableError,
    MissingExtraError,
    first_line,
)
from aa_notebooks.otel.decode import (
    MAX_BODY_BYTES,
    BodyTooLargeError,
    Decoded,
    TraceDecodeError,
    decode_json,
    decode_protobuf,
    decompress,
)
from aa_notebooks.otel.ingest import HOLD_S, Ingestor, Outcome, Saturated
from aa_notebooks.otel.staging import Staging

log = logging.getLogger(__name__)

TRACES_PATH = "/v1/traces"
PROTOBUF, JSON = "application/x-protobuf", "application/json"
MAX_REASONS = 3
UNAVAILABLE_RETRY_S = 30
ENV_HOLD = "AA_OTEL_HOLD_SECONDS"
REQUESTS_PER_CONNECTION = 32
"""Exports answered on one keep-alive connection before the answer asks the exporter to
reconnect (`Connection: close`, as nginx's keepalive_requests): under `serve --workers` the new
connection goes to a worker free to accept it, so a few long-lived connections (a Collector's)
do not leave one worker doing all the work while the others wait."""
_MAX_CONNECTIONS_COUNTED = 4096


def hold_seconds() -> float:
    """How long an incomplete trace waits for its missing spans: AA_OTEL_HOLD_SECONDS, else
    the ingest's default; ConfigurationError for a value that is not a positive number."""
    text = os.environ.get(ENV_HOLD, "").strip()
    if not text:
        return HOLD_S
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise ConfigurationError(f"{ENV_HOLD} must be a number of seconds above 0, not {text!r}")
    return seconds


class OtlpReceiver:
    """The receiver's Ingestor, made on the first request (an API that is never sent traces
    starts no writer), and closed with the app."""

    def __init__(self, url: str | URL | None) -> None:
        self.url = url
        self.hold_s = hold_seconds()
        self._ingestor: Ingestor | None = None
        self._lock = threading.Lock()
        self._answered: OrderedDict[Any, int] = OrderedDict()
        self._closed = False

    @property
    def ingestor(self) -> Ingestor:
        """The Ingestor, made (and its sweeper of held traces started) on first use."""
        with self._lock:
            return self._started()

    def _started(self) -> Ingestor:
        """The Ingestor, made now when there is none (under `_lock`)."""
        if self._ingestor is None:
            self._ingestor = Ingestor(self.url, hold_s=self.hold_s)
            self._ingestor.start_sweeper()
        return self._ingestor

    def resume_held(self) -> None:
        """Start the ingestor when the staging tables hold traces not written yet (the server
        stopped while holding them), so that they are written when their hold passes, not when
        some other trace arrives. An error (the database down) leaves it to the first request."""
        try:
            engine = get_engine(self.url)
            with connection_errors(engine.url):
                held = Staging(engine).holds_any()
            if held:
                with self._lock:
                    if not self._closed:
                        self._started()  # its sweeper writes them when due
        except Exception as error:
            log.warning("otel ingest: held traces not looked for at start: %s", error)

    def last_on_connection(self, client: Any) -> bool:
        """Count a request of the connection from `client` (host, port); whether it is the one
        after which that connection should close (every REQUESTS_PER_CONNECTION-th). Called on
        the event loop's thread only. The counts of the connections heard from least recently
        are dropped past _MAX_CONNECTIONS_COUNTED (those gone without reaching their turn).
        Behind a proxy whose forwarded headers uvicorn applies, the port is 0 and the count is
        per client host: its connections then share one turn, which still rotates them."""
        if client is None:
            return False
        count = self._answered.pop(client, 0) + 1
        if count >= REQUESTS_PER_CONNECTION:
            return True
        self._answered[client] = count  # now the most recent
        if len(self._answered) > _MAX_CONNECTIONS_COUNTED:
            self._answered.popitem(last=False)
        return False

    def receive(
        self, body: bytes, media_type: str, encoding: str | None, principal: Principal
    ) -> tuple[Decoded, Outcome]:
        """Decode and ingest one request; (decoded, outcome)."""
        data = decompress(body, encoding)
        try:
            decoded = decode_protobuf(data) if media_type == PROTOBUF else decode_json(data)
        except ImportError:
            raise MissingExtraError("opentelemetry-proto", "otel") from None
        outcome = self.ingestor.ingest(decoded.spans, principal.user_id)
        return decoded, outcome

    def close(self) -> None:
        """Write what the writer holds and stop (held traces stay in the staging table)."""
        with self._lock:
            self._closed = True
            if self._ingestor is not None:
                self._ingestor.close()
                self._ingestor = None


def create_otlp_router(receiver: OtlpReceiver, authenticate: Callable[..., Principal]) -> APIRouter:
    """The router holding `POST /v1/traces`, authenticated by `authenticate`."""
    router = APIRouter(tags=["otlp"])
    caller = Depends(_unavailable_as_503(authenticate))

    @router.post(TRACES_PATH, summary="Receive OpenTelemetry traces (OTLP/HTTP)")
    async def traces(request: Request, principal: Annotated[Principal, caller]) -> Response:
        response = await answer(request, principal)
        if receiver.last_on_connection(request.client):
            response.headers["Connection"] = "close"
        return response

    async def answer(request: Request, principal: Principal) -> Response:
        """The OTLP answer to one export request."""
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type not in (PROTOBUF, JSON):
            return _status(
                415, JSON, f"Content-Type must be {PROTOBUF} or {JSON}, not {media_type!r}"
            )
        body = await bounded_body(request, MAX_BODY_BYTES)
        if body is None:
            return _status(413, media_type, f"the body is over {MAX_BODY_BYTES} bytes; send "
                           "smaller batches")  # fmt: skip
        try:
            decoded, outcome = await run_in_threadpool(
                receiver.receive, body, media_type,
                request.headers.get("content-encoding"), principal,
            )  # fmt: skip
        except BodyTooLargeError as error:
            return _status(413, media_type, first_line(str(error)))
        except TraceDecodeError as error:
            return _status(400, media_type, first_line(str(error)))
        except Saturated as error:
            response = _status(error.status, media_type, str(error))
            response.headers["Retry-After"] = str(error.retry_after_s)
            return response
        except MissingExtraError as error:
            return _status(501, JSON, str(error))
        except (AnalyticsError, DBAPIError) as error:  # the database is down or not set up
            log.warning("OTLP receiver: %s", first_line(str(error)))
            response = _status(503, media_type, "the database is unavailable; retry later")
            response.headers["Retry-After"] = str(UNAVAILABLE_RETRY_S)
            return response
        return _success(media_type, decoded, outcome)

    return router


def _unavailable_as_503(authenticate: Callable[..., Principal]) -> Callable[..., Principal]:
    """`authenticate` answering 503 with Retry-After when the database that holds the tokens is
    down: exporters retry a 503, and drop the spans of a 500."""

    @functools.wraps(authenticate)  # FastAPI reads the dependency's parameters through it
    def guarded(*args: Any, **kwargs: Any) -> Principal:
        try:
            return authenticate(*args, **kwargs)
        except (DatabaseUnavailableError, DBAPIError) as error:
            log.warning("OTLP receiver: tokens not checked: %s", first_line(str(error)))
            raise HTTPException(
                503,
                "the database is unavailable; retry later",
                headers={"Retry-After": str(UNAVAILABLE_RETRY_S)},
            ) from None

    return guarded


def _success(media_type: str, decoded: Decoded, outcome: Outcome) -> Response:
    """200 with an ExportTraceServiceResponse; partial_success when spans were not used."""
    rejected = len(decoded.refused) + outcome.rejected
    reasons = "; ".join((decoded.refused + outcome.reasons)[:MAX_REASONS])
    if media_type == JSON:  # OTLP/JSON, by hand: it needs no protobuf package (int64 as text)
        partial = {"rejectedSpans": str(rejected), "errorMessage": reasons}
        return _json(200, {"partialSuccess": partial} if rejected else {})
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceResponse,
    )

    answer = ExportTraceServiceResponse()
    if rejected:
        answer.partial_success.rejected_spans = rejected
        answer.partial_success.error_message = reasons
    return Response(answer.SerializeToString(), status_code=200, media_type=PROTOBUF)


def _status(code: int, media_type: str, message: str) -> Response:
    """An error answer: a google.rpc.Status with the message (as JSON for a JSON request, or
    when the server lacks the protobuf packages of the otel extra)."""
    rpc_code = _RPC_CODES.get(code, 2)
    if media_type == PROTOBUF:
        try:
            from google.rpc.status_pb2 import Status  # type: ignore[import-untyped]
        except ImportError:
            pass
        else:
            body = Status(code=rpc_code, message=message).SerializeToString()
            return Response(body, status_code=code, media_type=PROTOBUF)
    return _json(code, {"code": rpc_code, "message": message})


_RPC_CODES = {400: 3, 413: 3, 415: 3, 429: 8, 501: 12, 503: 14}
"""gRPC codes of the HTTP statuses: INVALID_ARGUMENT, RESOURCE_EXHAUSTED, UNIMPLEMENTED,
UNAVAILABLE."""


def _json(code: int, document: dict[str, Any]) -> Response:
    return Response(json.dumps(document), status_code=code, media_type=JSON)
