"""The analytics test dataset plus three budgets, for reports made as of the dataset's now.

Budgets (spend computed by hand from tests/analytics/dataset.py):

    name          scope   target   type       threshold  days  alert  spend     used     status
    Org weekly    global           warning    $0.02      7     50%    0.016025  80.13%   warning
    Planner stop  agent   planner  hard_stop  $1.50      30    80%    1.504600  100.31%  exceeded
    U2 monthly    user    (U2)     warning    $1.00      30    80%    0.505000  50.50%   ok

Planner, 30 days: E01 .0015 + E02 .003 + E05 0 + E07 .0001 + E09 1.0 + E10 .5 = 1.5046.
U2, 30 days: E03 .0009 + E04 .004 + E07 .0001 + E10 .5 = 0.505.
Evaluating them at now (with recording) fires: Org weekly warning, Planner stop warning and
exceeded.
"""

from __future__ import annotations

import pytest

from aa_notebooks.analytics import connect
from aa_notebooks.budgets.client import BudgetClient
from tests.analytics import dataset

AS_OF = dataset.NOW.isoformat()


@pytest.fixture
def report_db(db_url: str) -> str:
    """A database holding the dataset and the three budgets, their alerts recorded at now."""
    dataset.load(db_url)
    analytics = connect(db_url, now=lambda: dataset.NOW)
    BudgetClient.of(analytics).create(
        name="Org weekly", scope="global", threshold_usd="0.02", period_days=7,
        alert_type="warning", alert_at_percentage=50, email_notification=False,
    )  # fmt: skip
    BudgetClient.of(analytics).create(
        name="Planner stop", scope="agent", target="planner", threshold_usd="1.50",
        period_days=30, alert_type="hard_stop", alert_at_percentage=80,
        email_notification=False,
    )  # fmt: skip
    BudgetClient.of(analytics).create(
        name="U2 monthly", scope="user", user_id=str(dataset.U2), threshold_usd="1.00",
        period_days=30, alert_type="warning", alert_at_percentage=80, email_notification=False,
    )  # fmt: skip
    BudgetClient.of(analytics).evaluate()
    return db_url
