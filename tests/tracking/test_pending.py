"""Spend held by a writer before its commit, per ledger key, counted as the ledger counts it."""

from __future__ import annotations

import uuid
from dataclasses import replace
from decimal import Decimal

from aa_notebooks.tracking.pending import PendingSpend
from aa_notebooks.tracking.record import ExecutionRecord
from tests.tracking.journaling_agent import ALICE, record

BOB = uuid.UUID("b0b00000-0000-4000-8000-000000000002")
AGENT_ID = uuid.UUID("a9e17000-0000-4000-8000-000000000003")


def costing(name: str, cost: str, **fields: object) -> ExecutionRecord:
    """Run `name`'s record with another cost (and fields)."""
    made = record(name)
    return replace(made, execution={**made.execution, "cost_usd": Decimal(cost), **fields})


def test_pending_spend_is_counted_per_key_until_removed() -> None:
    pending = PendingSpend()
    first = costing("A", "0.006000")  # Alice, agent "agent A", flow support
    second = costing("B", "0.0100004", user_id=BOB, agent_id=AGENT_ID, flow_id=None)
    third = costing("C", "0.000001", agent_name="agent A")  # same keys as the first
    free = costing("D", "0")
    for made in (first, second, third, free):
        pending.add(made)
    expected = {
        ("global", ""): 6000 + 10000 + 1,
        ("user", str(ALICE)): 6000 + 1,
        ("user", str(BOB)): 10000,
        ("agent", "agent A"): 6000 + 1,
        ("agent", "agent B"): 10000,
        ("agent", str(AGENT_ID)): 10000,
        ("flow", "support"): 6000 + 1,
        ("flow", ""): 0,
        ("agent", "agent D"): 0,
    }
    assert {key: pending.micros(key) for key in expected} == expected
    pending.remove([first, third])
    assert pending.micros(("global", "")) == 10000 and pending.micros(("user", str(ALICE))) == 0
    pending.remove([second, free])
    assert {key: pending.micros(key) for key in expected} == dict.fromkeys(expected, 0)
