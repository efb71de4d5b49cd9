"""`reprice`: stored costs priced again with today's (dated) prices, per model, in one
transaction with the execution totals, the budgets' spend ledger and the rollups; checked on a
hand-made history whose answers are worked out below, on both databases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from aa_notebooks.budgets.ledger import rebuild_ledger
from aa_notebooks.cli import main
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.rollups.check import check_rollups
from aa_notebooks.db.rollups.rebuild import rebuild_rollups
from aa_notebooks.db.schema import AgentExecution, BudgetSpendLedger, TokenUsage, table_of
from aa_notebooks.errors import InvalidInputError
from aa_notebooks.pricing import set_price_file
from aa_notebooks.tracking.reprice import reprice

EXECUTIONS, USAGES = table_of(AgentExecution), table_of(TokenUsage)
LEDGER = table_of(BudgetSpendLedger)
# house-model: $1 / $2 per 1M tokens before 2026-03-01, $2 / $4 from then on.
PRICES = """
[models."house-model"]
input_per_million = 1
output_per_million = 2

[models."house-model".prices."2026-03-01"]
input_per_million = 2
output_per_million = 4
"""
E1, E2, E3, E4 = (uuid.UUID(int=n) for n in range(1, 5))
U1, U2, U3, U4 = (uuid.UUID(int=n) for n in range(11, 15))
LABEL = "price file house.toml"


@pytest.fixture
def history(db_url: str, tmp_path: Path) -> Iterator[str]:
    """Costs stored by an older price table:

    - E1 (2026-02-10): U1 house-model 1,000 in / 500 out stored $0.010 (now 1,000 * 1 + 500 * 2
      = $0.002); E1 stored $0.013, $0.003 of it in no usage row: it becomes $0.005.
    - E2 (2026-03-05): U2 house-model 1,000 / 500 stored $0.002 (now 1,000 * 2 + 500 * 4 =
      $0.004), U3 mystery-model (unpriced) $0.5, kept; E2 $0.502 becomes $0.504.
    - E3 (2026-03-06), no usage rows: house-model 2,000 / 1,000 stored $0 (now 2,000 * 2 +
      1,000 * 4 = $0.008).
    - E4 (2026-04-10), outside the window repriced: U4 stored $0.1, E4 $0.1, untouched.
    """
    path = tmp_path / "house.toml"
    path.write_text(PRICES)
    set_price_file(path)
    executions = [
        (E1, datetime(2026, 2, 10, 9, tzinfo=UTC), "0.013", 1000, 500),
        (E2, datetime(2026, 3, 5, 9, tzinfo=UTC), "0.502", 1000, 500),
        (E3, datetime(2026, 3, 6, 9, tzinfo=UTC), "0", 2000, 1000),
        (E4, datetime(2026, 4, 10, 9, tzinfo=UTC), "0.1", 1000, 500),
    ]
    usages = [(U1, E1, "house-model", "0.010"), (U2, E2, "house-model", "0.002"),
              (U3, E2, "mystery-model", "0.5"), (U4, E4, "house-model", "0.1")]  # fmt: skip
    engine = get_engine(db_url)
    with engine.begin() as connection:
        connection.execute(EXECUTIONS.insert(), [
            {"id": key, "request_id": uuid.uuid4(), "session_id": uuid.uuid4(),
             "agent_name": "bot", "model_name": "house-model", "status": "success",
             "input_tokens": i, "output_tokens": o, "total_tokens": i + o,
             "cost_usd": Decimal(cost), "started_at": at, "completed_at": at}
            for key, at, cost, i, o in executions
        ])  # fmt: skip
        connection.execute(USAGES.insert(), [
            {"id": key, "execution_id": execution, "component": "main_agent", "model": model,
             "input_tokens": 1000, "output_tokens": 500, "cost_usd": Decimal(cost)}
            for key, execution, model, cost in usages
        ])  # fmt: skip
    rebuild_ledger(engine)
    rebuild_rollups(engine)
    yield db_url
    set_price_file(None)


def costs(url: str) -> tuple[dict[uuid.UUID, Decimal], dict[uuid.UUID, Decimal]]:
    with get_engine(url).connect() as connection:
        executions = dict(connection.execute(select(EXECUTIONS.c.id, EXECUTIONS.c.cost_usd)).all())
        usages = dict(connection.execute(select(USAGES.c.id, USAGES.c.cost_usd)).all())
    return (
        {k: Decimal(v).quantize(Decimal("0.000001")) for k, v in executions.items()},
        {k: Decimal(v).quantize(Decimal("0.000001")) for k, v in usages.items()},
    )


def ledger_micros(url: str) -> int:
    """The global scope's spend in the ledger, all hours."""
    query = select(func.sum(LEDGER.c.spend_micro_usd)).where(LEDGER.c.scope == "global")
    with get_engine(url).connect() as connection:
        return int(connection.execute(query).scalar_one())


def test_a_dry_run_shows_the_differences_and_writes_nothing(history: str) -> None:
    before = costs(history)
    result = reprice(history, "2026-02-01", "2026-03-31", dry_run=True)
    frame = result.to_frame().set_index("model")
    assert frame.loc["house-model"].to_dict() == {
        "usage_rows": 2, "executions_without_usage": 1, "unpriced_kept": 0,
        "old_cost_usd": 0.012, "new_cost_usd": 0.014, "difference_usd": pytest.approx(0.002),
    }  # fmt: skip  # old 0.010 + 0.002 + 0; new 0.002 + 0.004 + 0.008
    assert frame.loc["mystery-model"].to_dict() == {
        "usage_rows": 1, "executions_without_usage": 0, "unpriced_kept": 1,
        "old_cost_usd": 0.5, "new_cost_usd": 0.5, "difference_usd": 0.0,
    }  # fmt: skip
    assert (result.usage_rows_changed, result.executions_changed) == (2, 3)
    assert result.difference_usd == Decimal("0.002")
    assert "dry run: nothing written" in str(result)
    assert costs(history) == before


def test_reprice_writes_costs_totals_ledger_and_rollups(history: str) -> None:
    assert ledger_micros(history) == 13_000 + 502_000 + 0 + 100_000
    reprice(history, date(2026, 2, 1), date(2026, 3, 31))
    executions, usages = costs(history)
    assert executions == {E1: Decimal("0.005000"), E2: Decimal("0.504000"),
                          E3: Decimal("0.008000"), E4: Decimal("0.100000")}  # fmt: skip
    assert usages == {U1: Decimal("0.002000"), U2: Decimal("0.004000"),
                      U3: Decimal("0.500000"), U4: Decimal("0.100000")}  # fmt: skip
    assert ledger_micros(history) == 5_000 + 504_000 + 8_000 + 100_000
    assert check_rollups(get_engine(history)).ok
    with get_engine(history).connect() as connection:
        provenance = connection.execute(
            select(USAGES.c.id, USAGES.c.price_source, USAGES.c.price_date)
        ).all()
    assert sorted(provenance) == [
        (U1, LABEL, None), (U2, LABEL, "2026-03-01"), (U3, None, None), (U4, None, None),
    ]  # fmt: skip
    again = reprice(history, "2026-02-01", "2026-03-31")  # nothing left to change
    assert (again.usage_rows_changed, again.executions_changed) == (0, 0)


def test_an_execution_without_a_cost_gets_its_rows_new_cost(history: str) -> None:
    """E5 (2026-03-07) stored no cost (NULL, as the contract's DDL allows) and U5, house-model
    1,000 in / 500 out at $0: U5 becomes 1,000 * 2 + 500 * 4 = $0.004, and so does E5. It
    stayed NULL (NULL + the difference), while reprice reported the difference as made."""
    e5, u5, at = uuid.UUID(int=5), uuid.UUID(int=15), datetime(2026, 3, 7, 9, tzinfo=UTC)
    engine = get_engine(history)
    with engine.begin() as connection:
        connection.execute(EXECUTIONS.insert(), [{
            "id": e5, "request_id": uuid.uuid4(), "session_id": uuid.uuid4(), "agent_name": "bot",
            "model_name": "house-model", "status": "success", "input_tokens": 1000,
            "output_tokens": 500, "total_tokens": 1500, "cost_usd": None, "started_at": at,
            "completed_at": at,
        }])  # fmt: skip
        connection.execute(USAGES.insert(), [{
            "id": u5, "execution_id": e5, "component": "main_agent", "model": "house-model",
            "input_tokens": 1000, "output_tokens": 500, "cost_usd": Decimal(0),
        }])  # fmt: skip
    rebuild_ledger(engine)
    rebuild_rollups(engine)
    result = reprice(history, "2026-03-07", "2026-03-07")
    assert result.difference_usd == Decimal("0.004")
    executions, usages = costs(history)
    assert (executions[e5], usages[u5]) == (Decimal("0.004000"), Decimal("0.004000"))
    assert ledger_micros(history) == 13_000 + 502_000 + 0 + 100_000 + 4_000
    assert check_rollups(get_engine(history)).ok


def test_a_new_cost_past_the_column_is_refused_before_anything_is_written(
    history: str, tmp_path: Path
) -> None:
    """E6 (2026-03-08) with U6, 20,000 input tokens stored at $0.04; a price file's typo of
    $1,000,000 per 1M input tokens from March makes U6 $20,000: past NUMERIC(10,6)'s
    $9,999.999999. The dry run showed it, and the real run failed in PostgreSQL's words,
    naming neither the row nor the cost."""
    e6, u6, at = uuid.UUID(int=6), uuid.UUID(int=16), datetime(2026, 3, 8, 9, tzinfo=UTC)
    with get_engine(history).begin() as connection:
        connection.execute(EXECUTIONS.insert(), [{
            "id": e6, "request_id": uuid.uuid4(), "session_id": uuid.uuid4(), "agent_name": "bot",
            "model_name": "house-model", "status": "success", "input_tokens": 20_000,
            "output_tokens": 0, "total_tokens": 20_000, "cost_usd": Decimal("0.04"),
            "started_at": at, "completed_at": at,
        }])  # fmt: skip
        connection.execute(USAGES.insert(), [{
            "id": u6, "execution_id": e6, "component": "main_agent", "model": "house-model",
            "input_tokens": 20_000, "output_tokens": 0, "cost_usd": Decimal("0.04"),
        }])  # fmt: skip
    path = tmp_path / "typo.toml"
    path.write_text(PRICES.replace("input_per_million = 2\n", "input_per_million = 1000000\n"))
    set_price_file(path)
    before = costs(history)
    for dry_run in (True, False):
        with pytest.raises(InvalidInputError, match=(
            rf"repricing would make usage row {u6} cost \$20,000.000000, more than cost_usd "
            r"holds \(\$9,999.999999\); nothing was written"
        )):  # fmt: skip
            reprice(history, "2026-03-01", "2026-03-31", dry_run=dry_run)
    assert costs(history) == before


@pytest.mark.parametrize("given", ["house-model", " HOUSE-Model "])
def test_one_model_only(history: str, given: str) -> None:
    """The model is matched as pricing matches it, without case or surrounding spaces (a
    differently cased name found nothing: "no executions in the window")."""
    result = reprice(history, "2026-03-01", "2026-03-31", model=given)
    assert list(result.to_frame()["model"]) == ["house-model"]
    executions, usages = costs(history)
    assert (executions[E1], executions[E2], executions[E3]) == (
        Decimal("0.013000"), Decimal("0.504000"), Decimal("0.008000"),
    )  # fmt: skip  # E1 is in February: not in this window
    assert usages[U1] == Decimal("0.010000")


def test_bad_windows_are_refused_in_one_line(history: str) -> None:
    with pytest.raises(InvalidInputError, match=r"end \(2026-01-01\) is before start"):
        reprice(history, "2026-02-01", "2026-01-01")
    with pytest.raises(InvalidInputError, match="start must be a day as YYYY-MM-DD, got 'March'"):
        reprice(history, "March", "2026-01-01")


def test_the_command_line(history: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--db", history, "reprice", "--start", "2026-02-01", "--end", "2026-03-31",
                 "--dry-run"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "house-model" in out and "$0.002" in out and "dry run: nothing written" in out
    assert main(["--db", history, "--user", str(uuid.uuid4()), "reprice", "--start",
                 "2026-02-01", "--end", "2026-03-31"]) == 2  # fmt: skip
    assert "run it without --user" in capsys.readouterr().err
    assert costs(history)[0][E3] == Decimal("0")
