"""Large seeds: the helper process writes exactly the rows the generator makes here."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import AgentExecution, TokenUsage
from aa_notebooks.db.url import resolve_url
from aa_notebooks.errors import PricingError
from aa_notebooks.pricing import reset_pricing_cache
from aa_notebooks.seed import seed_database
from aa_notebooks.seed.generator import generate_chunk
from aa_notebooks.seed.world import CHUNK, SeedPlan, World
from tests.seed.conftest import NOW


def test_helper_process_writes_the_generated_rows(tmp_path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'large.db'}"
    report = seed_database(url, executions=CHUNK + 25, seed=3, days=30, now=NOW, progress=True)
    world = World(SeedPlan(seed=3, count=CHUNK + 25, now=NOW, days=30))
    chunks = [generate_chunk(world, index) for index in range(world.plan.chunks)]
    with get_engine(resolve_url(url)).connect() as connection:
        ids = connection.execute(select(AgentExecution.id).order_by(AgentExecution.id)).scalars()
        costs = connection.execute(select(TokenUsage.cost_usd)).scalars()
        stored_ids, total_cost = [i.hex for i in ids], sum(costs)
    assert stored_ids == sorted(row[0] for chunk in chunks for row in chunk.executions)
    assert report.token_usages == sum(len(chunk.usages) for chunk in chunks)
    assert total_cost == sum(Decimal(repr(row[6])) for chunk in chunks for row in chunk.usages)
    assert "seeding: 100%" in capsys.readouterr().err


def test_a_bad_price_file_fails_here_before_any_row(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'large.db'}"
    prices = tmp_path / "prices.toml"
    prices.write_text("[models\n")
    monkeypatch.setenv("AA_PRICING_FILE", str(prices))
    reset_pricing_cache()
    with pytest.raises(PricingError, match="invalid TOML"):
        seed_database(url, executions=CHUNK + 1, now=NOW)
    with get_engine(resolve_url(url)).connect() as connection:
        assert connection.execute(select(func.count()).select_from(AgentExecution)).scalar() == 0
