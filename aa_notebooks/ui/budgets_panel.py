"""The dashboard's budgets panel: one row per active budget, with a bar coloured by its status.

It shows `BudgetClient.status()`, which only reads: a dashboard never writes to the database
or sends alert emails, and it works on a database the kit may only read. When alerts are due
that the email settings cannot send, the panel says so above the table, in red.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import ipywidgets as widgets

from aa_notebooks import formatting as fmt
from aa_notebooks.analytics import Analytics
from aa_notebooks.budgets import Budget, BudgetStatus, BudgetStatusList, Status
from aa_notebooks.budgets.client import BudgetClient
from aa_notebooks.db.schema import BudgetScope
from aa_notebooks.errors import SchemaError
from aa_notebooks.ui.markup import OTHER_COLOR, badge, esc, notice

HEADERS = ("Budget", "Scope", "Spend", "Used", "Status", "Stop")
STATUS_COLORS = {
    Status.ok: "#16a34a",
    Status.warning: "#d97706",
    Status.exceeded: "#dc2626",
    Status.unavailable: OTHER_COLOR,
}
TRACK_COLOR = "#e5e7eb"
EMPTY = (
    "No active budgets. Create one with %agent_analytics budgets create --threshold-usd 100 "
    "--alert-type warning"
)


def scope_text(budget: Budget) -> str:
    """What a budget watches: "global", "user <id>", "agent <target>" or "flow <target>"."""
    if budget.scope is BudgetScope.global_:
        return "global"
    if budget.scope is BudgetScope.user:
        return f"user {budget.user_id}"
    return f"{budget.scope.value} {budget.target}"


def displayed_row(status: BudgetStatus) -> dict[str, str]:
    """One budget as the panel shows it (plain text, before escaping)."""
    budget = status.budget
    spent = "–" if status.spend_usd is None else fmt.money(status.spend_usd)
    return {
        "Budget": budget.label,
        "Scope": scope_text(budget),
        "Spend": f"{spent} / {fmt.money(budget.threshold_usd)}",
        "Used": "–" if status.percent_used is None else f"{status.percent_used:.2f}%",
        "Status": status.status.value,
        "Stop": "hard stop" if budget.hard_stop else "",
    }


def progress_bar(percent: Decimal | None, color: str) -> str:
    """A horizontal bar filled to `percent` (at most full) in `color`."""
    width = 0 if percent is None else min(percent, Decimal(100))
    inner = (
        f'<div style="width:{width:.2f}%;height:8px;border-radius:4px;background:{color}"></div>'
    )
    return (
        f'<div class="aa-budget-bar" style="min-width:120px;height:8px;border-radius:4px;'
        f'background:{TRACK_COLOR}">{inner}</div>'
    )


def budget_statuses(analytics: Analytics) -> BudgetStatusList | str:
    """The active budgets' statuses, read-only; or why this database has none to show."""
    try:
        return BudgetClient.of(analytics).status()
    except SchemaError as exc:
        return f"Budgets are not available here: {exc}"


class BudgetsPanel:
    """An HTML widget listing the active budgets of the dashboard's scope."""

    def __init__(self) -> None:
        self.widget = widgets.HTML()
        self.rows: list[dict[str, str]] = []
        """The budgets as displayed, one dict per row keyed by HEADERS."""
        self.note = ""
        """The sentence shown instead of rows (no budgets, none possible here), or ""."""
        self.warning = ""
        """The warning shown above the rows when alerts are due that cannot be emailed, or ""."""

    def refresh(self, analytics: Analytics) -> None:
        """Show the budgets `analytics` sees; a database that cannot hold budgets as one line."""
        self.display(budget_statuses(analytics))

    def display(self, result: Sequence[BudgetStatus] | str) -> None:
        """Show statuses, or the sentence that says why there are none to show."""
        if isinstance(result, str):
            self.warning = ""
            self._show_note(result)
        else:
            warning = result.email_warning if isinstance(result, BudgetStatusList) else None
            self.show(result, warning)

    def show(self, statuses: Sequence[BudgetStatus], email_warning: str | None = None) -> None:
        """Display these statuses (under `email_warning`, when given), or the empty state in
        words when there are none."""
        self.warning = email_warning or ""
        if not statuses:
            self._show_note(EMPTY)
            return
        self.rows, self.note = [displayed_row(status) for status in statuses], ""
        head = "".join(f"<th>{esc(h)}</th>" for h in HEADERS)
        body = "".join(
            self._row(status, row) for status, row in zip(statuses, self.rows, strict=True)
        )
        self._render(
            f'<table class="aa-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
        )

    def _row(self, status: BudgetStatus, row: dict[str, str]) -> str:
        color = STATUS_COLORS[status.status]
        name = esc(row["Budget"])
        if status.reason:
            name += f'<div class="aa-kpi-detail">{esc(status.reason)}</div>'
        cells = (
            name,
            esc(row["Scope"]),
            progress_bar(status.percent_used, color) + esc(row["Spend"]),
            esc(row["Used"]),
            badge(row["Status"], color),
            esc(row["Stop"]),
        )
        tds = "".join(f"<td>{cell}</td>" for cell in cells)
        return f'<tr data-status="{status.status.value}">{tds}</tr>'

    def _show_note(self, text: str) -> None:
        self.rows, self.note = [], text
        self._render(notice(text))

    def _render(self, body: str) -> None:
        warning = notice(self.warning, "error") if self.warning else ""
        self.widget.value = (
            f'<div class="aa-ui" data-panel="budgets"><h4>Budgets</h4>{warning}{body}</div>'
        )
