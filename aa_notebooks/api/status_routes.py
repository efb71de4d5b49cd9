"""`GET /budgets/status`: each visible active budget as it stands now, computed per request.

Spend in the budget's rolling window, percent used, status, remaining, daily burn and projected
exhaustion come from the budgets module's read-only evaluation (summed from the executions at
request time, never the stored current_spend_usd), which writes nothing and sends no alert.
"""

from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from aa_notebooks.analytics import Analytics
from aa_notebooks.api.budget_access import may_see
from aa_notebooks.api.encoding import jsonable
from aa_notebooks.api.principal import Principal
from aa_notebooks.budgets import BudgetStatus
from aa_notebooks.budgets.client import BudgetClient


def add_status_route(router: APIRouter, client: Any, caller: Any) -> None:
    """Add the route; `client` gives the caller's Analytics, `caller` its Principal."""
    Client = Annotated[Analytics, client]
    Caller = Annotated[Principal, caller]

    @router.get("/budgets/status", summary="Budget status now (read only)")
    def budget_status(analytics: Client, principal: Caller) -> JSONResponse:
        statuses = BudgetClient.of(analytics).status()
        shown = [s for s in statuses if may_see(principal, s.budget.scope.value, s.budget.user_id)]
        return JSONResponse({"scope": analytics.scope, "items": [_record(s) for s in shown]})


def _record(status: BudgetStatus) -> dict[str, Any]:
    """One budget's status as JSON: money as exact decimal strings, times in ISO 8601."""
    budget = status.budget
    record: dict[str, Any] = jsonable({
        "id": budget.id, "name": budget.name, "scope": budget.scope, "target": budget.target,
        "user_id": budget.user_id, "per_user": budget.per_user, "alert_type": budget.alert_type,
        "threshold_usd": budget.threshold_usd, "alert_at_percentage": budget.alert_at_percentage,
        "period_days": budget.period_days, "window_start": status.window.start,
        "window_end": status.window.end, "spend_usd": status.spend_usd,
        "percent_used": status.percent_used, "status": status.status,
        "remaining_usd": status.remaining_usd, "daily_burn_usd": status.daily_burn_usd,
        "projected_exhaustion": status.projected_exhaustion, "blocking": status.blocking,
        "reason": status.reason,
    })  # fmt: skip
    return record
