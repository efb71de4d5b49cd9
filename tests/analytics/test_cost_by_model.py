"""Cost by model from the token usage rows (tests/analytics/usage_dataset.py), worked by hand.

In the 7d window (X1..X5), each usage row under its own model, X2 (no rows) under its own
model, and X4's $0.000673 that its rows do not account for under X4's model (gpt-4o):

    model              executions        in   out  total  cost
    gpt-4o             2 (X1 X4)       1000   280   1280  .006 + .0018 + .000673      = .008473
    claude-3-5-sonnet  2 (X1 X3)        500   150    650  .003 + .0021                = .005100
    gpt-4o-mini        5 (X1..X5)       860   310   1170  .001 + .00012 + .000051
                                                          + .000027 + .000075         = .001273
    acme-vision-beta   1 (X3)            50    10     60  0 (unpriced)
    (no model)         1 (X5)             0     0      0  X5's cost is all its gpt-4o-mini row

Tokens: gpt-4o-mini in = 100 (X1) + 400 (X2) + 160 (X3) + 100 (X4) + 100 (X5). The total,
.014846, is the executions' own: .01 + .00012 + .002151 + .0025 + .000075. Shares of it:
.008473 -> 57.072612%, .0051 -> 34.352688%, .001273 -> 8.5747%.
The old definition (each execution under its own model) gave gpt-4o .0125, claude .002151,
gpt-4o-mini .00012 and (no model) .000075, and no acme-vision-beta at all.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import create_engine, insert, make_url, text

from aa_notebooks.analytics import Analytics, connect
from aa_notebooks.analytics.model_split import favour_index_probes
from aa_notebooks.analytics.models import PER_EXECUTION
from aa_notebooks.analytics.source import Source
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.schema import TokenUsage
from aa_notebooks.db.url import resolve_url
from aa_notebooks.pricing import UnpricedModelWarning
from aa_notebooks.tracking import Run
from aa_notebooks.tracking.store import write_batch
from tests.analytics import usage_dataset
from tests.analytics.usage_dataset import CLAUDE, MINI, NOW, U1, UNPRICED, xid

MODELS = ["gpt-4o", CLAUDE, MINI, UNPRICED, "(none)"]  # costliest first, ties by name, none last
EXPECTED = {
    "model": MODELS,
    "executions": [2, 2, 5, 1, 1],
    "input_tokens": [1000, 500, 860, 50, 0],
    "output_tokens": [280, 150, 310, 10, 0],
    "total_tokens": [1280, 650, 1170, 60, 0],
    "cost_usd": [0.008473, 0.0051, 0.001273, 0.0, 0.0],
    "cost_share": [57.072612, 34.352688, 8.5747, 0.0, 0.0],
}
UNPRICED_NOTE = f"Unpriced models (their calls count as $0): {UNPRICED}"
# Cost coverage: all tokens but acme-vision-beta's 60 have a known price: 3,100 of 3,160.
COVERAGE = 3100 / 3160 * 100
COVERAGE_NOTE = "Cost coverage: 98.1% of tokens are priced by a known price"


@pytest.fixture
def url(db_url: str) -> str:
    """A database (SQLite or PostgreSQL) holding the usage dataset."""
    usage_dataset.load(db_url)
    return db_url


@pytest.fixture
def analytics(url: str) -> Analytics:
    return connect(url, now=lambda: NOW)


def _columns(frame: pd.DataFrame) -> dict[str, list[object]]:
    """The expected columns, executions without a model as "(none)" (pandas holds NaN)."""
    return {name: frame.fillna({"model": "(none)"})[name].tolist() for name in EXPECTED}


def test_cost_by_model_counts_each_usage_row_under_its_model(analytics: Analytics) -> None:
    result = analytics.cost_summary("7d", by="model")
    assert _columns(result.frame) == EXPECTED
    assert result.frame["priced"].tolist() == [True, True, True, False, False]
    assert result.notes == (UNPRICED_NOTE, COVERAGE_NOTE)


def test_the_totals_are_the_overviews(analytics: Analytics) -> None:
    overview = analytics.overview("7d")
    assert overview.total_cost_usd == Decimal("0.014846")
    assert (overview.input_tokens, overview.output_tokens) == (2410, 750)
    frame = analytics.cost_summary("7d", by="model").frame
    assert frame["cost_usd"].sum() == pytest.approx(0.014846, abs=1e-12)
    assert frame["cost_share"].sum() == pytest.approx(100, abs=1e-5)
    assert frame["input_tokens"].sum() == 2410 and frame["output_tokens"].sum() == 750
    assert frame["total_tokens"].sum() == overview.total_tokens == 3160
    # Unpriced models include one that only a usage row names (X3's tool call).
    assert overview.unpriced_models == (UNPRICED,)


def test_a_comparison_overview_skips_the_usage_rows(analytics: Analytics) -> None:
    full, quick = analytics.overview("7d"), analytics.overview("7d", unpriced=False)
    assert quick.unpriced_models == ()  # UNPRICED is named only by a usage row
    assert full.cost_coverage == pytest.approx(COVERAGE, abs=1e-6)
    # By the executions' own models only: X5's 200 tokens have no model; UNPRICED's 60 stay
    # under X3's claude: 2,960 of 3,160.
    assert quick.cost_coverage == pytest.approx(2960 / 3160 * 100, abs=1e-6)
    assert (
        replace(quick, unpriced_models=full.unpriced_models, cost_coverage=full.cost_coverage)
        == full
    )


def test_breakdown_splits_the_same_way(analytics: Analytics) -> None:
    summary = analytics.breakdown("7d")
    assert _columns(summary.cost_by_model.frame) == EXPECTED
    assert summary.cost_by_model.notes == (UNPRICED_NOTE, COVERAGE_NOTE)
    assert summary.overview.unpriced_models == (UNPRICED,)
    assert summary.overview.total_cost_usd == Decimal("0.014846")


def test_scoped_to_one_user(url: str) -> None:
    """U1 has X1, X3 and X4: gpt-4o-mini keeps X1's .001, X3's .000051 and X4's .000027."""
    frame = connect(url, user_id=U1, now=lambda: NOW).cost_summary("7d", by="model").frame
    assert frame["model"].tolist() == ["gpt-4o", CLAUDE, MINI, UNPRICED]
    assert frame["executions"].tolist() == [2, 2, 3, 1]
    assert frame["input_tokens"].tolist() == [1000, 500, 360, 50]
    assert frame["cost_usd"].tolist() == [0.008473, 0.0051, 0.001078, 0.0]
    # of .014651 (X1 .01 + X3 .002151 + X4 .0025)
    assert frame["cost_share"].tolist() == [57.83223, 34.809911, 7.35786, 0.0]


def test_cost_over_time_splits_each_bucket(analytics: Analytics) -> None:
    series = analytics.cost_timeseries(
        start_date="2026-11-22", end_date="2026-11-25", bucket="day", by="model"
    )
    frame = series.frame
    models = [UNPRICED, CLAUDE, "gpt-4o", MINI, "(none)"]  # by name, none last
    assert frame.fillna({"model": "(none)"})["model"].tolist() == models * 4
    assert frame["bucket"].dt.day.tolist() == [22] * 5 + [23] * 5 + [24] * 5 + [25] * 5
    assert frame["executions"].tolist() == [
        0, 0, 0, 1, 1,  # 22nd: X5 (its row is gpt-4o-mini; it counts under its own model too)
        1, 1, 1, 2, 0,  # 23rd: X3 and X4
        0, 0, 0, 1, 0,  # 24th: X2
        0, 1, 1, 1, 0,  # 25th: X1
    ]  # fmt: skip
    assert frame["cost_usd"].tolist() == [
        0, 0, 0, 0.000075, 0,
        0, 0.0021, 0.002473, 0.000078, 0,  # X4: .0018 + .000673; .00003 + .000021 + .000027
        0, 0, 0, 0.00012, 0,
        0, 0.003, 0.006, 0.001, 0,
    ]  # fmt: skip
    assert frame["total_tokens"].tolist() == [
        0, 0, 0, 200, 0,
        60, 300, 480, 320, 0,  # gpt-4o-mini: 120 + 80 (X3) + 120 (X4)
        0, 0, 0, 500, 0,
        0, 350, 800, 150, 0,
    ]  # fmt: skip
    assert series.notes == (UNPRICED_NOTE, COVERAGE_NOTE)  # acme-vision-beta: 60 of 3,160
    over_week = analytics.cost_timeseries("7d", bucket="day", by="model").frame
    per_model = over_week.fillna({"model": "(none)"}).groupby("model")["cost_usd"].sum()
    assert per_model.round(6).to_dict() == dict(zip(MODELS, EXPECTED["cost_usd"], strict=True))


def test_compare_models_stays_per_execution(analytics: Analytics) -> None:
    result = analytics.compare_models("7d")
    frame = result.frame.set_index("model")
    assert frame.loc["gpt-4o", "executions"] == 2  # X1, X4, with their whole cost
    assert frame.loc["gpt-4o", "total_cost_usd"] == 0.0125
    assert UNPRICED not in frame.index  # no execution has it as its model
    assert result.notes == (PER_EXECUTION,)


def test_cost_by_agent_stays_per_execution(analytics: Analytics) -> None:
    frame = analytics.cost_summary("7d", by="agent").frame
    assert frame["agent"].tolist() == ["assistant"]
    assert frame["cost_usd"].tolist() == [0.014846]


def test_usage_rows_that_claim_more_than_their_execution(url: str, analytics: Analytics) -> None:
    """A claude row of .001 in X5 (.000075, no model): X5's model gives up .001075 of .000075."""
    engine = create_engine(resolve_url(url))
    row = {"execution_id": xid(5), "model": CLAUDE, "input_tokens": 10, "output_tokens": 0,
           "cost_usd": Decimal("0.001")}  # fmt: skip
    with engine.begin() as connection:
        connection.execute(insert(TokenUsage.__table__), [row])
    engine.dispose()
    result = analytics.cost_summary("7d", by="model")
    frame = result.frame.fillna({"model": "(none)"})
    costs = dict(zip(frame["model"], frame["cost_usd"], strict=True))
    assert costs["(none)"] == -0.001 and costs[CLAUDE] == 0.0061
    assert result.frame["cost_usd"].sum() == pytest.approx(0.014846, abs=1e-12)  # unchanged
    assert result.notes == (
        UNPRICED_NOTE,
        COVERAGE_NOTE,  # 3,110 of 3,170 (the -10 under no model counts nothing)
        "Usage rows add up to more than their executions' own cost or tokens; the difference "
        "shows as a negative amount under the executions' model: (no model)",
    )


def test_a_database_without_usage_rows_goes_by_execution(url: str) -> None:
    engine = create_engine(resolve_url(url))
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE tokenusages"))
    engine.dispose()
    result = connect(url, now=lambda: NOW).cost_summary("7d", by="model")
    assert result.frame.fillna({"model": "(none)"})["model"].tolist() == [
        "gpt-4o", CLAUDE, MINI, "(none)"
    ]  # fmt: skip
    assert result.frame["cost_usd"].tolist() == [0.0125, 0.002151, 0.00012, 0.000075]
    assert result.notes == (
        "Cost coverage: 93.7% of tokens are priced by a known price",  # X5's 200 of 3,160: no model
        "The database has no tokenusages table: costs go by each execution's model",
    )


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgres_joins_through_the_usage_index(url: str) -> None:
    """The kit's schema indexes tokenusages by execution: the join probes it, no hash join.
    (tests/analytics/test_document_ddl.py: without the index, the hash join stays.)"""
    source = Source.open(make_url(url), None)
    with source.connect() as connection:
        assert connection.exec_driver_sql("SHOW enable_hashjoin").scalar_one() == "on"
        favour_index_probes(source, connection)
        assert connection.exec_driver_sql("SHOW enable_hashjoin").scalar_one() == "off"
    with source.connect() as connection:  # SET LOCAL: the next transaction plans as before
        assert connection.exec_driver_sql("SHOW enable_hashjoin").scalar_one() == "on"


def test_compare_models_judges_priced_by_the_models_own_rows(db_url: str) -> None:
    """An execution of an unpriced model whose only cost is a priced model's call (gpt-4o-mini,
    1,000 input tokens at $0.15 a million): compare_models said its model was priced."""
    run = Run(agent_name="a", model="acme-llm-v2")
    with warnings.catch_warnings():  # warned once per process
        warnings.simplefilter("ignore", UnpricedModelWarning)
        run.tokens("main_agent", "acme-llm-v2", 100, 10)
    run.tokens("tool", "gpt-4o-mini", 1000, 0)
    write_batch(get_engine(db_url), [run.finish()])
    analytics = connect(db_url)
    result = analytics.compare_models("1d")
    row = result.frame.set_index("model").loc["acme-llm-v2"]
    assert (bool(row["priced"]), row["total_cost_usd"]) == (False, 0.00015)
    assert result.notes[0] == "Unpriced models (their calls count as $0): acme-llm-v2"
    assert analytics.overview("1d").unpriced_models == ("acme-llm-v2",)
