"""The served API fuzzed with schemathesis from its own OpenAPI schema, with a token: no input,
valid or not, makes the server fail (5xx). The app runs under a real uvicorn server on a free
port; examples per operation and mode are few, so the run stays within a minute or so.

(schemathesis' lazy `from_fixture` loader fails under pytest 9, so the schema is loaded in the
test and each operation's strategy is run with hypothesis directly.)
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import schemathesis
import uvicorn
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.api.conftest import Tokens, bearer

EXAMPLES = 15


@pytest.fixture
def served(token_app: FastAPI) -> Iterator[str]:
    """The base URL of `token_app` served by uvicorn in a thread, stopped after the test."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(token_app, host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join()


@pytest.mark.parametrize("who", ["admin", "u1"])
def test_no_input_makes_a_server_error(served: str, tokens: Tokens, who: str) -> None:
    headers = bearer(getattr(tokens, who))
    schema = schemathesis.openapi.from_url(f"{served}/openapi.json", headers=headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    # ten endpoints (budgets take GET/POST and PATCH/DELETE), the budget status, OTLP traces
    assert len(operations) == 14
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(mode))
            @settings(max_examples=EXAMPLES, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))  # fmt: skip
            def call(case: schemathesis.Case) -> None:
                case.call_and_validate(base_url=served, headers=headers,
                                       checks=[not_a_server_error])  # fmt: skip

            try:
                call()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # this operation takes any input
