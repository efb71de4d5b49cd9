"""The row generator alone: storage forms, ids, time spread, prices, independence of chunks."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from aa_notebooks.db.bulk import storage_timestamp
from aa_notebooks.pricing import PriceSource, calculate_cost, is_priced
from aa_notebooks.seed import catalog, costs
from aa_notebooks.seed.costs import Pricer
from aa_notebooks.seed.generator import EXECUTION_COLUMNS, generate_chunk
from aa_notebooks.seed.timeline import Timeline
from aa_notebooks.seed.world import CHUNK, SeedPlan, World

NOW = datetime(2025, 6, 1, 12, 0, 30, 250000, tzinfo=UTC)
START = EXECUTION_COLUMNS.index("started_at")


def test_timestamps_are_in_the_storage_form() -> None:
    world = World(SeedPlan(seed=1, count=10, now=NOW, days=90))
    assert world.origin == datetime(2025, 3, 3, 12, 1)
    offsets = [0, 59_999, 60_000, 86_400_123, *random.Random(3).sample(range(10**10), 200)]
    for offset in offsets:
        expected = storage_timestamp(world.origin + timedelta(milliseconds=offset))
        assert world.stamp(offset) == expected


def test_ids_are_uuid7_carrying_the_row_time() -> None:
    chunk = generate_chunk(World(SeedPlan(seed=1, count=50, now=NOW, days=90)), 0)
    for row in chunk.executions:
        for value in (row[0], row[2], row[3]):
            parsed = uuid.UUID(value)
            assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
        started = datetime.fromisoformat(row[START]).replace(tzinfo=UTC)
        unix_ms = uuid.UUID(row[0]).int >> 80
        assert unix_ms == (started - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    ids = [row[0] for row in chunk.executions + chunk.traces + chunk.usages]
    assert len(set(ids)) == len(ids)


def test_executions_come_oldest_first() -> None:
    chunk = generate_chunk(World(SeedPlan(seed=5, count=400, now=NOW, days=7)), 0)
    starts = [row[START] for row in chunk.executions]
    assert starts == sorted(starts)


def test_a_chunk_is_the_same_alone_or_after_the_others() -> None:
    world = World(SeedPlan(seed=9, count=CHUNK + 30, now=NOW, days=90))
    alone = generate_chunk(world, 1)
    generate_chunk(world, 0)
    assert generate_chunk(world, 1) == alone
    assert len(alone.executions) == 30


def test_timeline_is_busier_recently_and_stays_in_its_span() -> None:
    span_ms = 90 * 86_400_000
    timeline = Timeline(random.Random(0), datetime(2025, 1, 1), span_ms)
    quantiles = [(i + 0.5) / 1000 for i in range(1000)]
    offsets = [timeline.offset_ms(q) for q in quantiles]
    assert offsets == sorted(offsets) and offsets[0] >= 0 and offsets[-1] < span_ms
    first_month = sum(o < span_ms / 3 for o in offsets)
    assert first_month < 1000 / 3 * 0.75


def test_every_seed_meets_the_documented_numbers() -> None:
    for seed in range(20):
        chunk = generate_chunk(World(SeedPlan(seed=seed, count=250, now=NOW, days=90)), 0)
        assert len(chunk.traces) >= 1000 and len(chunk.usages) >= 750


def test_pricer_gives_exactly_what_calculate_cost_gives() -> None:
    pricer = Pricer(catalog.MODELS, NOW)
    draws = random.Random(4)
    for model in catalog.MODELS:
        for _ in range(200):
            tokens = draws.randrange(15_000), draws.randrange(2_000)
            cached = draws.randrange(tokens[0] + 1)
            expected = calculate_cost(model, *tokens, at=NOW) if is_priced(model) else 0
            assert pricer.micros(model, *tokens) == expected * 1_000_000
            expected = (
                calculate_cost(model, *tokens, cache_read_tokens=cached, at=NOW)
                if is_priced(model)
                else 0
            )
            assert pricer.micros(model, *tokens, cached) == expected * 1_000_000


def test_pricer_falls_back_when_the_rates_do_not_reproduce_the_price(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wrong = PriceSource("user-file", "gpt-4o", Decimal("2.4"), Decimal("10"))
    monkeypatch.setattr(costs, "price_source", lambda model, at: wrong)
    pricer = Pricer(["gpt-4o"], NOW)
    assert pricer.micros("gpt-4o", 1_000, 100) == 3_500  # $2.50 and $10 per million
