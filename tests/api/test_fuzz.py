"""The router's OpenAPI schema fuzzed with schemathesis: no input, valid or not, makes the
server fail (5xx). Examples per operation and mode are few, so the suite stays fast.

(schemathesis' lazy `from_fixture` loader fails under pytest 9, so the schema is loaded in the
test and each operation's strategy is run with hypothesis directly.)
"""

from __future__ import annotations

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

EXAMPLES = 15


def test_no_input_makes_a_server_error(app: FastAPI) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 12  # ten endpoints; budgets take GET/POST and PATCH/DELETE
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(mode))
            @settings(max_examples=EXAMPLES, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))  # fmt: skip
            def call(case: schemathesis.Case) -> None:
                case.call_and_validate(checks=[not_a_server_error])

            try:
                call()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # this operation takes any input
