"""`checked_span`: the ids and times a span needs before the mapping may use it."""

from __future__ import annotations

import dataclasses

import pytest

from aa_notebooks.otel.conventions import checked_counts
from aa_notebooks.otel.spans import Span, SpanError, checked_span

T0 = 1_764_000_000 * 1_000_000_000  # 2025-11-24
GOOD = Span("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", None, "chat", T0, T0 + 1, {})


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
        ({"start_ns": 1, "end_ns": 2}, "times must lie between 2000-01-01 and a day from now"),
        ({"end_ns": 2**64 + 5}, "times must lie between 2000-01-01 and a day from now"),
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


@pytest.mark.parametrize("count", [-1, 2**31, 10**30, 1e30, float("nan")])
def test_a_token_count_no_column_holds_is_refused(count: float) -> None:
    span = dataclasses.replace(GOOD, attributes={"gen_ai.usage.input_tokens": count})
    with pytest.raises(SpanError, match=r"gen_ai.usage.input_tokens = .* outside 0 to 2,147,"):
        checked_counts(span)


def test_token_counts_in_range_pass() -> None:
    span = dataclasses.replace(
        GOOD, attributes={"gen_ai.usage.input_tokens": 2**31 - 1, "llm.token_count.prompt": 0.0}
    )
    assert checked_counts(span) is span
