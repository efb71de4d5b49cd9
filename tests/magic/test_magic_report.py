"""`%agent_analytics report` makes the same report as the CLI and the Python function."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell

from aa_notebooks.cli.parser import CommandLineError
from aa_notebooks.errors import InvalidInputError
from aa_notebooks.reporting import ReportResult
from tests.analytics import dataset
from tests.reporting.html_tables import table_with


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_report_from_the_magic_uses_the_configured_database_and_user(
    ip: InteractiveShell, db_url: str, tmp_path
) -> None:
    dataset.load(db_url)
    ip.run_line_magic("config", f"AgentAnalytics.database_url = {db_url!r}")
    ip.run_line_magic("config", f"AgentAnalytics.user_id = {str(dataset.U1)!r}")
    result = ip.run_line_magic(
        "agent_analytics",
        f"report cost --as-of {dataset.NOW.isoformat()} --output-dir {tmp_path} -o made",
    )
    assert isinstance(result, ReportResult) and ip.user_ns["made"] is result
    html = result.html_path.read_text()
    # U1 in 7d: E01 .0015, E02 .003, E05 0, E06 .000225, E08 .0063 = .011025; before: E09 $1.
    assert table_with(html, "Metric")[1] == ["Total cost", "$0.01", "$1.00",
                                             "▼ 98.9% vs previous 7d"]  # fmt: skip
    # U1's tokens: E01 150, E02 300, E05 1,500 (unpriced), E06 75, E08 900: 1,425 of 2,925
    assert table_with(html, "Metric")[2] == ["Cost coverage (tokens priced)", "48.7%", "100.0%", ""]
    assert table_with(html, "Metric")[3] == ["Executions", "5", "1", "▲ 4 vs previous 7d"]
    assert str(result.html_path) in result._repr_html_()


def test_report_errors_are_one_line(ip: InteractiveShell, db_url: str) -> None:
    ip.run_line_magic("config", f"AgentAnalytics.database_url = {db_url!r}")
    with pytest.raises(
        CommandLineError, match="'costs' is not one of cost, budget; did you mean 'cost'"
    ):
        ip.run_line_magic("agent_analytics", "report costs")
    with pytest.raises(InvalidInputError, match="unknown time zone 'Nowhere'"):
        ip.run_line_magic("agent_analytics", "report cost --timezone Nowhere")
