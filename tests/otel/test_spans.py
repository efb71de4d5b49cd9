"""`checked_span`: the ids and times a span needs before the mapping may use it."""

from __future__ import annotations

import dataclasses

import pytest

from aa_notebooks.otel.spans import Span, SpanError, checked_span

GOOD = Span("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", None, "chat", 1, 2, {})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"trace_id": "0af7651916cd43dd8448eb2zz1c80319c"[:32]}, "trace id must be 16 bytes"),
        ({"trace_id": "0AF7651916CD43DD8448EB211C80319C"}, "trace id must be 16 bytes"),
        ({"trace_id": "0" * 32}, "trace id must be 16 bytes, not all zero"),
        ({"span_id": "b7ad6b71692033"}, "span id must be 8 bytes"),
        ({"span_id": "b7ad6b-169203331"}, "span id must be 8 bytes"),
        ({"parent_id": "b7ad6b71 9203331"}, "parent span id must be 8 bytes"),
        ({"end_ns": 0}, "needs a start time and an end time not before it"),
    ],
)
def test_a_span_with_a_bad_id_or_time_is_refused_with_the_reason(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(SpanError, match=message):
        checked_span(dataclasses.replace(GOOD, **change))


def test_a_good_span_passes_as_it_is() -> None:
    parented = dataclasses.replace(GOOD, parent_id="00f067aa0ba902b7")
    assert checked_span(GOOD) is GOOD and checked_span(parented) is parented
