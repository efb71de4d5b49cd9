"""Both reports on a read-only PostgreSQL database made by the data contract's own DDL.

It has no kit additions (no budget name or target, no alert events table, no ledger) and
refuses every write, so the reports must only read. Its one budget is global, $0.02 over 7 days,
warning at 50%: the dataset's 7-day spend is $0.016025 (80.13%), so it is in warning.
"""

from __future__ import annotations

import uuid

import nbformat
import pytest
from sqlalchemy import create_engine, text

from aa_notebooks.reporting import run_report
from aa_notebooks.reporting.page import summary
from tests.analytics import dataset
from tests.analytics.test_document_ddl import DDL, _admin
from tests.conftest import drop_postgres_database, new_postgres_database
from tests.reporting.conftest import AS_OF
from tests.reporting.html_tables import table_with, text_of

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
BUDGET = uuid.UUID("bbbbbbbb-bbbb-4bbb-8bbb-000000000001")


@pytest.fixture
def document_url():
    url, name = new_postgres_database()
    _admin(url, DDL.read_text(encoding="utf-8"))
    dataset.load_plain_sql(url)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO budgetalerts (id, scope, threshold_usd, period_days, alert_type, "
                "alert_at_percentage) VALUES (:id, 'global', 0.02, 7, 'warning', 50)"
            ),
            {"id": BUDGET},
        )
    engine.dispose()
    _admin(url, f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    yield url
    drop_postgres_database(url, name)


def test_both_reports_only_read_a_document_database(document_url: str, tmp_path) -> None:
    cost = run_report(
        "cost", database_url=document_url, as_of=AS_OF, output_dir=tmp_path, progress=False
    )
    kpis = table_with(cost.html_path.read_text(), "Metric")
    assert kpis[1] == ["Total cost", "$0.02", "$1.00", "▼ 98.4% vs previous 7d"]
    assert kpis[2] == ["Cost coverage (tokens priced)", "58.7%", "100.0%", ""]  # 2,135 of 3,635
    assert kpis[3] == ["Executions", "8", "1", "▲ 7 vs previous 7d"]

    budget = run_report(
        "budget", database_url=document_url, as_of=AS_OF, output_dir=tmp_path, progress=False,
        keep_notebook=True,
    )  # fmt: skip
    html = budget.html_path.read_text()
    rows = table_with(html, "Projected exhaustion")
    assert rows[1][:10] == [str(BUDGET), "global", "", "warning", "$0.02", "50%", "7 days",
                            "$0.02", "80.1%", "warning"]  # fmt: skip
    assert "No budget alert fired in 7d." in text_of(html)
    # A budget without a name (AgentOS has none) goes by its id in the text summary too.
    text = summary(nbformat.read(budget.notebook_path, as_version=4))
    assert f"- {BUDGET}: WARNING, $0.02 of $0.02 (80.1%) over 7 days" in text
