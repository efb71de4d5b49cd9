"""Budgets: spend per scope over a rolling window, warning and hard stop, alert emails.

Where spend lives: the exact spend of every execution is in agentexecutions.cost_usd
(NUMERIC(10,6)); the kit's table budgetspendledger keeps it again per scope key and UTC hour, in
whole micro-dollars, so that `check_budget` needs no 30-day SUM; budgetalerts.current_spend_usd
(NUMERIC(10,2), cents) is only the display copy that `evaluate_budgets` writes back. Reads only
read: `budget_status` (`reading`) writes nothing; `evaluate_budgets` (`evaluation`) is the
explicit write that records the alerts due and emails them. See `guard` for why hard stops are
consistent with many writers, `alerts` for when events fire and `delivery` for the emails.
`history` (spend per day, alert events; for charts and reports) is imported on its own: it uses
the analytics layer, which agent processes need not load.
"""

from aa_notebooks.budgets.alert_settings import AlertMailer
from aa_notebooks.budgets.crud import (
    create_budget,
    delete_budget,
    get_budget,
    list_budgets,
    update_budget,
)
from aa_notebooks.budgets.delivery import Delivery, deliver_alerts, wait_for_deliveries
from aa_notebooks.budgets.evaluation import Evaluation, evaluate_budgets
from aa_notebooks.budgets.guard import check_budget
from aa_notebooks.budgets.ledger import rebuild_spend_ledger
from aa_notebooks.budgets.model import Budget
from aa_notebooks.budgets.reading import budget_status
from aa_notebooks.budgets.recording import apply_spend, record_execution
from aa_notebooks.budgets.status import BudgetStatus, BudgetStatusList, Status
from aa_notebooks.budgets.window import SpendWindow
from aa_notebooks.db.schema import BudgetSpendLedger

__all__ = [
    "AlertMailer",
    "Budget",
    "BudgetSpendLedger",
    "BudgetStatus",
    "BudgetStatusList",
    "Delivery",
    "Evaluation",
    "SpendWindow",
    "Status",
    "apply_spend",
    "budget_status",
    "check_budget",
    "create_budget",
    "delete_budget",
    "deliver_alerts",
    "evaluate_budgets",
    "get_budget",
    "list_budgets",
    "rebuild_spend_ledger",
    "record_execution",
    "update_budget",
    "wait_for_deliveries",
]
