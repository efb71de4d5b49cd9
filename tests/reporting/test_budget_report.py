"""The budget report, run end to end in a real kernel, shows each budget's state and alerts, only
reads, and warns when alerts are due that the email settings cannot send."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from html import escape

import pytest

from aa_notebooks.budgets import create_budget
from aa_notebooks.budgets.client import BudgetClient
from aa_notebooks.db.engine import dispose_engine
from aa_notebooks.formatting import timestamp
from aa_notebooks.reporting import run_report
from aa_notebooks.reporting.budget_report import BudgetReport
from aa_notebooks.reporting.page import summary
from tests.analytics import dataset
from tests.budgets.conftest import (
    ALICE,
    BOB,
    NO_EMAIL_SETTINGS_WARNING,
    NOW,
    due_alerts_dataset,
    read_only,
    record,
    snapshot,
)
from tests.reporting.conftest import AS_OF
from tests.reporting.html_tables import RESOURCE, read, table_with, text_of

pytestmark = pytest.mark.slow


# Each budget replayed over the 90 days to now (E11, a minute in the future, is not yet run):
# - Planner stop ($1.50 over 30 days, hard stop, 80% = $1.20), agent "planner" by name: E10
#   (0.50) runs; E9 (1.00) takes the spend to 1.50, past 80% and 100% (2 alerts); E2, E7, E5
#   and E1 start at 1.50 and are refused, saving 0.003 + 0.0001 + 0 + 0.0015 = $0.0046.
# - Org weekly ($0.02 over 7 days, 50% = $0.01), every execution: E12, E10 and E9 each start
#   an empty window and pass both levels (6 alerts); at E1 (now) E9 has left the window, the
#   spend is 0.014525 + 0.0015 = 0.016025, still past 50% with no 50% alert in the window: 1
#   more (7); $0.02 is not reached again.
# - U2 monthly ($1.00 over 30 days, 80%): U2 spends 0.50 + 0.0001 + 0.004 + 0.0009 = 0.505.
BACKTEST_TABLE = [
    ["Budget", "Type", "Threshold", "Its window (days)", "Alerts it would have fired",
     "Runs it would have refused", "Spend saved"],
    ["Planner stop", "hard stop", "$1.50", "30", "2", "4", "$0.0046"],
    ["Org weekly", "warning", "$0.02", "7", "7", "0", "$0.00"],
    ["U2 monthly", "warning", "$1.00", "30", "0", "0", "$0.00"],
]  # fmt: skip


def _reached(spend: str, threshold: str, days: int) -> str:
    """now + remaining / (spend / days): when the threshold is reached at the window's rate."""
    seconds = (Decimal(threshold) - Decimal(spend)) * days * 86400 / Decimal(spend)
    moment = dataset.NOW + timedelta(seconds=int(seconds.to_integral_value(ROUND_HALF_UP)))
    return timestamp(moment)


def test_budget_report_shows_every_budget_and_the_alerts(report_db: str, tmp_path) -> None:
    result = run_report(
        "budget", database_url=report_db, as_of=AS_OF, output_dir=tmp_path, keep_notebook=True,
        progress=False,
    )  # fmt: skip
    html = result.html_path.read_text()

    assert table_with(html, "Projected exhaustion") == [
        ["Budget", "Scope", "Target", "Type", "Threshold", "Alert at", "Period", "Spend", "Used",
         "Status", "Projected exhaustion"],
        ["Planner stop", "agent", "planner", "hard stop", "$1.50", "80%", "30 days", "$1.50",
         "100.3%", "exceeded", "reached"],
        ["Org weekly", "global", "", "warning", "$0.02", "50%", "7 days", "$0.02", "80.1%",
         "warning", _reached("0.016025", "0.02", 7)],
        ["U2 monthly", "user", "(owner)", "warning", "$1.00", "80%", "30 days", "$0.51", "50.5%",
         "ok", _reached("0.505", "1.00", 30)],
    ]  # fmt: skip
    # Replayed over 90 days (see each row worked out in test_backtest_section_by_hand).
    assert table_with(html, "Runs it would have refused") == BACKTEST_TABLE
    fired = "2026-11-25 12:00:00 UTC"
    alerts = table_with(html, "Fired")
    assert alerts[0] == [
        "Fired",
        "Budget",
        "Scope",
        "Target",
        "Alert",
        "Level",
        "Spend then",
        "Threshold",
        "Emailed",
    ]
    assert sorted(alerts[1:]) == [
        # their budgets' notifications are off: muted, never sent
        [fired, "Org weekly", "global", "", "warning", "50%", "$0.02", "$0.02", "muted"],
        [fired, "Planner stop", "agent", "planner", "exceeded", "100%", "$1.50", "$1.50", "muted"],
        [fired, "Planner stop", "agent", "planner", "warning", "80%", "$1.50", "$1.50", "muted"],
    ]
    page = read(html)
    assert len(page.images) == 1  # the burn-down small multiples
    assert "<script" not in html.lower() and not RESOURCE.search(html)

    import nbformat

    text = summary(nbformat.read(result.notebook_path, as_version=4))
    assert text.splitlines()[0] == "3 active budgets: 1 exceeded, 1 warning, 1 ok."
    assert "- Planner stop: EXCEEDED, $1.50 of $1.50 (100.3%) over 30 days" in text


def test_budget_report_without_budgets_says_so(db_url: str, tmp_path) -> None:
    dataset.load(db_url)
    result = run_report(
        "budget", database_url=db_url, as_of=AS_OF, output_dir=tmp_path, progress=False
    )
    text = text_of(result.html_path.read_text())
    assert "No active budgets. Create one with" in text
    assert "No budget alert fired in 7d." in text


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_burn_down_charts_the_budgets_nearest_their_limit(report_db: str, tmp_path) -> None:
    from aa_notebooks.analytics import connect
    from aa_notebooks.reporting.budget_report import MAX_CHARTED

    budgets = BudgetClient.of(connect(report_db, now=lambda: dataset.NOW))
    for n in range(MAX_CHARTED):  # 3 budgets already, so MAX_CHARTED + 3 in all
        budgets.create(name=f"roomy {n:02d}", scope="global", threshold_usd="100",
                       alert_type="warning", period_days=7, email_notification=False)  # fmt: skip
    result = run_report(
        "budget", database_url=report_db, as_of=AS_OF, output_dir=tmp_path, progress=False
    )
    html = result.html_path.read_text()
    assert len(table_with(html, "Projected exhaustion")) == 1 + MAX_CHARTED + 3
    assert len(read(html).images) == 1
    assert (
        "3 more budgets are in the table above but not charted: the chart shows the "
        f"{MAX_CHARTED} exceeded or nearest their alert."
    ) in text_of(html)


def test_budget_report_reads_a_read_only_database_and_warns_of_unsent_alerts(
    db_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three alerts are due (see due_alerts_dataset) and no email settings exist: the report
    opens its summary with the warning, and neither writes nor needs to."""
    monkeypatch.delenv("AA_BUDGET_ALERT_EMAILS", raising=False)
    due_alerts_dataset(db_url, NOW)
    before = snapshot(db_url)
    url = read_only(db_url)
    result = run_report(
        "budget", database_url=url, as_of=NOW.isoformat(), output_dir=tmp_path, progress=False
    )
    html = result.html_path.read_text()
    assert f'<p class="aa-note aa-warning">{escape(NO_EMAIL_SETTINGS_WARNING)}</p>' in html
    text = text_of(html)
    assert NO_EMAIL_SETTINGS_WARNING in text
    assert text.index(NO_EMAIL_SETTINGS_WARNING) < text.index("Projected exhaustion")
    # exceeded first, the most used first: small 1200%, org 120%; then alice (ok)
    assert [row[0] for row in table_with(html, "Projected exhaustion")[1:]] == [
        "small", "org", "alice"
    ]  # fmt: skip
    dispose_engine(url)
    assert snapshot(db_url) == before


def test_a_per_user_budget_is_counted_once_with_a_status_per_user(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$2 for each user: ALICE spent $3 (exceeded), BOB $1 (50%: ok)."""
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    record(db_url, "3", hour_ago, user_id=ALICE)
    record(db_url, "1", hour_ago, user_id=BOB)
    create_budget(db_url, name="each", per_user=True, threshold_usd=2, alert_type="warning")
    monkeypatch.setenv("AA_DATABASE_URL", db_url)
    text = BudgetReport.open(period="7d").overview().text
    assert text.splitlines()[-3:] == [
        "1 active budgets (2 statuses: a per-user budget has one per user): 1 exceeded, 1 ok.",
        f"- each (user {ALICE}): EXCEEDED, $3.00 of $2.00 (150.0%) over 30 days",
        f"- each (user {BOB}): OK, $1.00 of $2.00 (50.0%) over 30 days",
    ]


def test_a_budget_longer_than_a_chart_reads_is_left_out_of_the_burn_down_only(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 6,000-day budget (the kit takes up to 36,500) made the whole report fail: its window
    has more days than a chart reads. It stays in the table; the 7-day one is charted."""
    record(db_url, "1", datetime.now(UTC) - timedelta(hours=1))
    create_budget(db_url, name="decades", threshold_usd=1000, alert_type="warning",
                  period_days=6000)  # fmt: skip
    create_budget(db_url, name="week", threshold_usd=2, alert_type="warning", period_days=7)
    monkeypatch.setenv("AA_DATABASE_URL", db_url)
    report = BudgetReport.open(period="7d")
    assert sorted(report.statuses["name"]) == ["decades", "week"]
    chart, note = report.burn_down()
    assert chart.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert note.data == (
        '<p class="aa-note aa-info">Not charted: 1 budget over 4,998 days (in the table above); '
        "such a window holds more days than a chart reads.</p>"
    )
