"""The dashboard's cost panels split costs by the token usage rows, as the analytics layer does.

Numbers: tests/analytics/test_cost_by_model.py (the usage dataset, 7d window).
"""

from __future__ import annotations

from aa_notebooks.analytics import connect
from aa_notebooks.ui import Dashboard
from tests.analytics import usage_dataset
from tests.analytics.usage_dataset import CLAUDE, MINI, NOW, UNPRICED
from tests.ui.conftest import html_of
from tests.ui.test_panels import chart_rows


def test_cost_panels_and_unpriced_warning(db_url: str) -> None:
    usage_dataset.load(db_url)
    board = Dashboard(connect(db_url, now=lambda: NOW))
    rows = chart_rows(board.cost_by_model)
    assert [(r["model"], r["executions"], r["cost_usd"]) for r in rows] == [
        ("gpt-4o", 2, 0.008473),
        (CLAUDE, 2, 0.0051),
        (MINI, 5, 0.001273),
        (UNPRICED, 1, 0.0),
        ("(none)", 1, 0.0),
    ]
    over_time = chart_rows(board.cost_over_time)
    assert [(r["bucket"][:10], r["model"], r["cost_usd"]) for r in over_time if r["cost_usd"]] == [
        ("2026-11-22", MINI, 0.000075),  # X5's row
        ("2026-11-23", CLAUDE, 0.0021),  # X3
        ("2026-11-23", "gpt-4o", 0.002473),  # X4: its row .0018 and the .000673 its rows miss
        ("2026-11-23", MINI, 0.000078),  # X3 .00003 + .000021, X4 .000027
        ("2026-11-24", MINI, 0.00012),  # X2, no usage rows
        ("2026-11-25", CLAUDE, 0.003),  # X1's tool call
        ("2026-11-25", "gpt-4o", 0.006),  # X1's main agent
        ("2026-11-25", MINI, 0.001),  # X1's sub-agent
    ]
    warning = f"Unpriced models (their calls count as $0): {UNPRICED}"
    assert any(warning in markup for markup in html_of(board.kpi_panel.widget))
    coverage = "Cost coverage: 98.1% of tokens are priced by a known price"  # 3,100 of 3,160
    assert any(coverage in markup for markup in html_of(board.kpi_panel.widget))
    board.wait()
