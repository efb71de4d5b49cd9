"""The cost report, run end to end in a real kernel, shows the dataset's numbers, escaped."""

from __future__ import annotations

import nbformat
import pytest
from sqlalchemy import make_url

from aa_notebooks.analytics import connect
from aa_notebooks.formatting import money
from aa_notebooks.reporting import run_report
from tests.analytics import dataset
from tests.reporting.conftest import AS_OF
from tests.reporting.html_tables import RESOURCE, read, table_with, text_of

pytestmark = pytest.mark.slow


def test_cost_report_shows_the_datasets_numbers(report_db: str, tmp_path) -> None:
    result = run_report(
        "cost", database_url=report_db, as_of=AS_OF, output_dir=tmp_path, top_n=6,
        keep_notebook=True, progress=False,
    )  # fmt: skip
    html = result.html_path.read_text()

    assert table_with(html, "Metric") == [
        ["Metric", "7d", "Previous", "Change"],
        ["Total cost", "$0.02", "$1.00", "▼ 98.4% vs previous 7d"],
        # 2,135 of 3,635 tokens priced (acme-internal-llm's 1,500 are not); before: E09's gpt-4o
        ["Cost coverage (tokens priced)", "58.7%", "100.0%", ""],
        ["Executions", "8", "1", "▲ 7 vs previous 7d"],
        ["Success rate", "62.5%", "100.0%", "▼ 37.5 pp vs previous 7d"],
        ["Avg response time", "16.43 s", "1m 40s", "▼ 83.6% vs previous 7d"],
        ["P95 response time", "1m 19s", "1m 40s", "▼ 20.6% vs previous 7d"],
        ["Total tokens", "3,635", "1,000", "▲ 263.5% vs previous 7d"],
        ["Active agents", "4", "1", "▲ 3 vs previous 7d"],
        ["Monthly projection", _projection(report_db), "", ""],
    ]
    assert table_with(html, "Model") == [
        ["Model", "Executions", "Tokens", "Cost", "Share"],
        ["gpt-4o", "4", "860", "$0.0086", "53.7%"],
        ["claude-3-5-sonnet", "3", "1,275", "$0.007425", "46.3%"],
        [dataset.UNPRICED, "1", "1,500", "$0.00", "0.0%"],
    ]
    assert table_with(html, "Agent") == [
        ["Agent", "Executions", "Tokens", "Cost", "Share"],
        ["researcher", "1", "900", "$0.0063", "39.3%"],
        ["planner", "4", "1,960", "$0.0046", "28.7%"],
        [dataset.DROP, "1", "400", "$0.004", "25.0%"],
        [dataset.SCRIPT, "2", "375", "$0.001125", "7.0%"],
    ]
    expensive = table_with(html, "Query")
    # E08, E04, E02, E01, E03, E06: the six most expensive of the window.
    assert [row[1] for row in expensive[1:]] == [
        "researcher", dataset.DROP, "planner", "planner", dataset.SCRIPT, dataset.SCRIPT
    ]  # fmt: skip
    assert [row[-1] for row in expensive[1:]] == ["$0.0063", "$0.004", "$0.003", "$0.0015",
                                                  "$0.0009", "$0.000225"]  # fmt: skip
    assert expensive[6][4] == '<script>alert("preview")</script>'  # E06's query, as text
    assert expensive[5][4] == '=HYPERLINK("http://evil.example","click")'  # E03's query, as text
    assert expensive[1][0] == "2026-11-18 13:00:00 UTC"  # E08: now - 6d 23h

    text = text_of(html)
    assert "Scope: all users" in text
    assert "7d (2026-11-18 12:00:00 UTC – 2026-11-25 12:00:00 UTC)" in text
    assert f"Unpriced models: {dataset.UNPRICED}." in text
    # a few runs a day per agent is too little history to judge: the section says so
    assert "No anomalies: no agent's or model's daily cost" in text
    forecast = connect(report_db, now=lambda: dataset.NOW).cost_forecast()
    assert table_with(html, "Forecast for November 2026")[3] == [
        "Projected month",
        money(forecast.projected_usd),
    ]

    # Stands alone: no script, no resource from the network; data shown as text, not markup.
    page = read(html)
    assert "script" not in page.tags and "<script" not in html.lower()
    assert not RESOURCE.search(html)
    assert "http://" not in html and "https://" not in html
    assert len(page.images) == 3 and all(
        s.startswith("data:image/png;base64,") for s in page.images
    )
    assert dataset.SCRIPT in text  # the agent named like a script tag is shown as text
    assert "+SUM(A1:A2)" not in text  # top 6 only: E05 ($0) is not among the most expensive

    # No code and no secret in what is kept.
    assert "CostReport.open" not in html and "import" not in text
    executed = nbformat.writes(nbformat.read(result.notebook_path, as_version=4))
    assert "sqlite:" not in executed and "postgresql" not in executed
    if password := make_url(report_db).password:
        assert password not in executed and password not in html


def test_a_users_cost_report_shows_only_their_executions(report_db: str, tmp_path) -> None:
    result = run_report(
        "cost", database_url=report_db, as_of=AS_OF, user_id=str(dataset.U2),
        output_dir=tmp_path, progress=False, timezone="Europe/Paris",
    )  # fmt: skip
    html = result.html_path.read_text()
    # U2 in 7d: E03 .0009 failure, E04 .004 timeout, E07 .0001 failure; before: nothing.
    kpis = table_with(html, "Metric")
    assert kpis[1] == ["Total cost", "$0.005", "$0.00", "▲ from 0 in previous 7d"]
    assert kpis[2] == ["Cost coverage (tokens priced)", "100.0%", "", ""]  # no tokens before
    assert kpis[3] == ["Executions", "3", "0", "▲ 3 vs previous 7d"]
    assert kpis[4] == ["Success rate", "0.0%", "", "no data in previous 7d"]
    text = text_of(html)
    assert f"Scope: user {dataset.U2}" in text
    assert "7d (2026-11-18 13:00:00 CET – 2026-11-25 13:00:00 CET)" in text


def _projection(url: str) -> str:
    """The overview's monthly projection, as the analytics layer gives it."""
    overview = connect(url, now=lambda: dataset.NOW).overview("7d")
    return money(overview.monthly_projection_usd)


def test_the_prompt_caching_section(report_db: str, tmp_path) -> None:
    """One call of E01 read 6,000 of its 10,000 input tokens from the cache and wrote 1,000:
    saved 6,000 * (3 - 0.30) + 1,000 * (3 - 3.75) = 15,450 per 1M (claude-sonnet-4's rates)."""
    from tests.analytics.test_caching import CLAUDE, _usage

    _usage(report_db, dataset.eid(1), CLAUDE, 10_000, 6_000, 1_000)
    result = run_report(
        "cost", database_url=report_db, as_of=AS_OF, output_dir=tmp_path, progress=False
    )
    assert table_with(result.html_path.read_text(), "Read from cache") == [
        ["Model", "Input tokens", "Read from cache", "Written to cache", "Cache hit share",
         "Saved by caching"],
        [CLAUDE, "10,000", "6,000", "1,000", "60.0%", "$0.02"],  # $0.01545 as money shows
    ]  # fmt: skip


def test_a_report_of_an_earlier_month_has_no_forecast_of_this_one(report_db: str, tmp_path) -> None:
    """October's report, made on November 25th, ended with November's forecast."""
    result = run_report(
        "cost", database_url=report_db, as_of=AS_OF, start_date="2026-10-01",
        end_date="2026-10-31", output_dir=tmp_path, progress=False,
    )  # fmt: skip
    text = text_of(result.html_path.read_text())
    assert (
        "No forecast: it is of the current month (November 2026), and this report's window "
        "ended before it began." in text
    )
    assert "Forecast for November 2026" not in text
