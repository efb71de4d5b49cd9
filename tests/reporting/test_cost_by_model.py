"""The cost report's cost by model section and headline split costs by the token usage rows.

Numbers: tests/analytics/test_cost_by_model.py (the usage dataset, 7d window).
"""

from __future__ import annotations

from IPython.display import HTML

from aa_notebooks.analytics import connect
from aa_notebooks.reporting.cost_report import CostReport
from aa_notebooks.reporting.parameters import ReportParameters
from tests.analytics import usage_dataset
from tests.analytics.usage_dataset import CLAUDE, MINI, NOW, UNPRICED
from tests.reporting.html_tables import table_with


def test_cost_by_model_section_and_unpriced_warning(db_url: str) -> None:
    usage_dataset.load(db_url)
    analytics = connect(db_url, now=lambda: NOW)
    parameters = ReportParameters(title="Costs", period="7d", as_of=NOW.isoformat())
    report = CostReport(analytics, parameters, parameters.window(analytics))
    _chart, table = report.cost_by_model()
    assert isinstance(table, HTML)
    assert table_with(table.data, "Model") == [
        ["Model", "Executions", "Tokens", "Cost", "Share"],
        ["gpt-4o", "2", "1,280", "$0.008473", "57.1%"],
        [CLAUDE, "2", "650", "$0.0051", "34.4%"],
        [MINI, "5", "1,170", "$0.001273", "8.6%"],
        [UNPRICED, "1", "60", "$0.00", "0.0%"],
        ["(none)", "1", "0", "$0.00", "0.0%"],  # X5 has no model: its cost is its gpt-4o-mini row's
    ]
    headline = report.headline()
    assert f"Unpriced models: {UNPRICED}." in headline.text  # only a usage row names it
