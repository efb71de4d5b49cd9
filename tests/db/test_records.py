"""The Create records reject what would corrupt the numbers, with field-named messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from aa_notebooks.db.records import (
    AgentExecutionCreate,
    BudgetAlertCreate,
    ExecutionTraceCreate,
    TokenUsageCreate,
    finished_times,
)
from aa_notebooks.errors import InvalidInputError

EXECUTION_ID = "6f1c1c3e-8a37-4a3e-9d6e-2f2b5f3f9a10"


def test_execution_defaults_and_preview_cut() -> None:
    record = AgentExecutionCreate(status="success", input_tokens=7, output_tokens=5,
                                  query_preview="q" * 150)  # fmt: skip
    assert record.total_tokens == 12
    assert record.query_preview == "q" * 100
    assert record.cost_usd == Decimal(0)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"status": "done"}, "Input should be 'success', 'failure' or 'timeout'"),
        ({"status": "success", "input_tokens": -1}, "greater than or equal to 0"),
        ({"status": "success", "execution_time_ms": -5}, "greater than or equal to 0"),
        ({"status": "success", "cost_usd": "-0.1"}, "greater than or equal to 0"),
        (
            {"status": "success", "input_tokens": 2, "output_tokens": 3, "total_tokens": 6},
            "total_tokens (6) must equal input_tokens + output_tokens (2 + 3 = 5)",
        ),
        ({"status": "success", "colour": "red"}, "Extra inputs are not permitted"),
        (
            {
                "status": "success",
                "started_at": "2026-01-02T00:00:00Z",
                "completed_at": "2026-01-01T00:00:00Z",
            },
            "completed_at is before started_at",
        ),
    ],
)
def test_execution_rejects(fields: dict, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        AgentExecutionCreate(**fields)
    assert message in str(info.value)


def test_a_time_more_than_a_day_ahead_is_refused_and_a_few_hours_ahead_kept() -> None:
    """A run stamped 9999-12-31 (a "never" sentinel) was stored, and filed far from every
    window; another host's clock a few hours ahead is not a mistake."""
    ahead = datetime.now(UTC) + timedelta(hours=20)
    assert AgentExecutionCreate(status="success", started_at=ahead).started_at == ahead
    with pytest.raises(ValidationError) as info:
        AgentExecutionCreate(status="success", completed_at="9999-12-31T23:00:00Z")
    assert (
        "completed_at 9999-12-31T23:00:00+00:00 is more than a day ahead of this host's clock: "
        "give the time the run took place (UTC, or with its offset)"
    ) in str(info.value)


def test_times_at_the_ends_of_the_range_are_refused_in_words() -> None:
    """Such times were a bare OverflowError from the UTC conversion or the duration's sum."""
    with pytest.raises(ValidationError) as early:
        AgentExecutionCreate(status="success", started_at="0001-01-01T00:30:00+01:00")
    assert (
        "0001-01-01T00:30:00+01:00 is outside the times a datetime holds in UTC (years 1 to 9999)"
    ) in str(early.value)
    with pytest.raises(InvalidInputError) as too_long:
        finished_times(datetime(2026, 1, 1, tzinfo=UTC), None, 10**11)  # 3 years
    assert str(too_long.value) == (
        "started_at 2026-01-01T00:00:00+00:00 plus execution_time_ms 100000000000 ends more than "
        "a day ahead of this host's clock: check the duration (milliseconds)"
    )
    with pytest.raises(InvalidInputError) as before_the_first:
        finished_times(None, datetime.min, 5)
    assert str(before_the_first.value) == (
        "execution_time_ms 5 from 0001-01-01 00:00:00+00:00 leaves the range of times "
        "(years 1 to 9999)"
    )


def test_a_float_cost_is_kept_to_the_micro_dollar_and_a_decimal_as_given() -> None:
    """0.1 + 0.2 is 0.30000000000000004: it was refused for its digits when $0.30 was meant."""
    assert AgentExecutionCreate(status="success", cost_usd=0.1 + 0.2).cost_usd == Decimal("0.3")
    assert TokenUsageCreate(execution_id=EXECUTION_ID, model="m", input_tokens=1, output_tokens=1,
                            cost_usd=0.0000015).cost_usd == Decimal("0.000002")  # fmt: skip
    with pytest.raises(ValidationError, match="no more than 6 decimal places"):
        AgentExecutionCreate(status="success", cost_usd=Decimal("0.0000001"))
    with pytest.raises(ValidationError, match="no more than 10 digits"):  # not InvalidOperation
        AgentExecutionCreate(status="success", cost_usd=1e22)


def test_trace_and_usage_validation() -> None:
    with pytest.raises(ValidationError, match="thought"):
        ExecutionTraceCreate(execution_id=EXECUTION_ID, step_number=1, step_type="musing")
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        ExecutionTraceCreate(execution_id=EXECUTION_ID, step_number=1, step_type="thought",
                             duration_ms=-1)  # fmt: skip
    with pytest.raises(ValidationError, match="valid UUID"):
        TokenUsageCreate(execution_id="not-a-uuid", input_tokens=1, output_tokens=1,
                         cost_usd="0")  # fmt: skip
    usage = TokenUsageCreate(execution_id=EXECUTION_ID, input_tokens=1, output_tokens=2,
                             cost_usd="0.000012")  # fmt: skip
    assert usage.cost_usd == Decimal("0.000012")


def test_budget_accepts_the_documents_curl_body() -> None:
    body = {"threshold_usd": 100.00, "period_days": 30, "alert_type": "warning",
            "alert_at_percentage": 80, "email_notification": True}  # fmt: skip
    budget = BudgetAlertCreate(**body)
    assert budget.scope.value == "global"
    assert budget.threshold_usd == Decimal("100.00")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"threshold_usd": 0}, "greater than 0"),
        ({"threshold_usd": 10, "alert_at_percentage": 0}, "greater than or equal to 1"),
        ({"threshold_usd": 10, "alert_at_percentage": 101}, "less than or equal to 100"),
        ({"threshold_usd": 10, "period_days": 0}, "greater than or equal to 1"),
        ({"threshold_usd": 10, "scope": "agent"}, "an agent budget needs a target"),
        ({"threshold_usd": 10, "scope": "global", "target": "x"}, "a global budget takes no"),
        ({"threshold_usd": 10, "scope": "user"}, "a user budget needs user_id"),
    ],
)
def test_budget_rejects(fields: dict, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        BudgetAlertCreate(alert_type="warning", **fields)
    assert message in str(info.value)
