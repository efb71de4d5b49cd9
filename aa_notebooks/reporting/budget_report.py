"""The sections of `reports/budget_report.ipynb`: every active budget's state, burn-down, alerts.

Statuses come from `BudgetClient.status()` (a report only reads: it neither writes spend back
nor sends alert emails), the burn-down from `BudgetClient.spend_daily` and the alerts from
`BudgetClient.alert_events` for the report's window. When alerts are due that the email settings
cannot send, the summary opens with that warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import altair as alt
import pandas as pd
from IPython.display import HTML, Image

from aa_notebooks.analytics import Analytics, Window
from aa_notebooks.budgets.client import BudgetClient
from aa_notebooks.formatting import money, percent, timestamp
from aa_notebooks.reporting import blocks
from aa_notebooks.reporting.parameters import MAX_REPORT_WINDOW, ReportParameters
from aa_notebooks.reporting.summary import Summary

MAX_CHARTED = 12
MAX_CHARTED_DAYS = MAX_REPORT_WINDOW.days
"""The longest budget window charted: the burn-down reads one row per day of it, as a
report's own window is bounded for its charts."""
BACKTEST_DAYS = 90
"""The history each active budget is replayed over in the report's backtest section."""
BACKTEST_COLUMNS = {
    "name": "Budget",
    "alert_type": "Type",
    "threshold_usd": "Threshold",
    "period_days": "Its window (days)",
    "alerts": "Alerts it would have fired",
    "refused": "Runs it would have refused",
    "saved_usd": "Spend saved",
}
STATUS_ORDER = {"exceeded": 0, "warning": 1, "ok": 2, "unavailable": 3}
STATUS_COLORS = {"ok": "#15803d", "warning": "#b45309", "exceeded": "#b91c1c"}
ALERT_COLUMNS = {
    "fired_at": "Fired",
    "name": "Budget",
    "scope": "Scope",
    "target": "Target",
    "kind": "Alert",
    "level_pct": "Level",
    "spend_usd": "Spend then",
    "threshold_usd": "Threshold",
    "notified": "Emailed",
}
NO_BUDGETS = (
    "No active budgets. Create one with `aa-notebooks budgets create --scope global "
    "--threshold-usd 100 --alert-type warning` (or %agent_analytics budgets create ... in a "
    "notebook)."
)


@dataclass(frozen=True)
class BudgetReport:
    """The budget report as of one moment, for one scope."""

    analytics: Analytics
    parameters: ReportParameters
    window: Window
    statuses: pd.DataFrame
    email_warning: str | None = None

    @classmethod
    def open(cls, **parameters: object) -> BudgetReport:
        """Connect (database from AA_DATABASE_URL) and evaluate every active budget, read-only."""
        checked = ReportParameters.from_notebook(parameters)
        analytics = checked.connect()
        evaluated = BudgetClient.of(analytics).status()
        # Budget.label: its name, or its id for a budget made by AgentOS (which has no names).
        statuses = evaluated.to_frame().assign(name=[status.budget.label for status in evaluated])
        order = statuses["status"].map(STATUS_ORDER)
        statuses = statuses.assign(_order=order).sort_values(
            ["_order", "percent_used", "name"], ascending=[True, False, True], kind="stable"
        )
        window, shown = checked.window(analytics), statuses.drop(columns="_order")
        return cls(analytics, checked, window, shown, evaluated.email_warning)

    def header(self) -> HTML:
        """Title, scope, period and generation time."""
        return self.parameters.header(self.analytics, self.window)

    def overview(self) -> Summary:
        """How many budgets are exceeded, in warning and ok, and the state of each; first, the
        warning when alerts are due that cannot be emailed."""
        warning = [self.email_warning] if self.email_warning else []
        warning_html = "".join(blocks.note(line, kind="warning").data for line in warning)
        if self.statuses.empty:
            return Summary(
                text="\n".join([*warning, NO_BUDGETS]),
                html=warning_html + blocks.note(NO_BUDGETS).data,
            )
        counts = self.statuses["status"].value_counts()
        tally = ", ".join(
            f"{counts[status]} {status}" for status in STATUS_ORDER if counts.get(status)
        )
        budgets, rows = self.statuses["id"].nunique(), len(self.statuses)
        counted = f"{budgets} active budgets" + (
            "" if rows == budgets else f" ({rows} statuses: a per-user budget has one per user)"
        )
        lines = [*warning, f"{counted}: {tally}."]
        lines += [self._line(row) for row in self.statuses.to_dict("records")]
        return Summary(text="\n".join(lines), html=warning_html + self._table())

    def burn_down(self) -> list[Image | HTML]:
        """Each budget's spend accumulating over its window, against its alert level and limit;
        the MAX_CHARTED nearest their limit when there are more (a chart stays readable)."""
        available = self.statuses[self.statuses["status"] != "unavailable"]
        chartable = available[available["period_days"] <= MAX_CHARTED_DAYS]
        left_out = len(available) - len(chartable)
        too_long: list[Image | HTML] = [
            blocks.note(
                f"Not charted: {left_out} budget{'s' if left_out != 1 else ''} over "
                f"{MAX_CHARTED_DAYS:,} days (in the table above); such a window holds more days "
                "than a chart reads."
            )
        ] if left_out else []  # fmt: skip
        if chartable.empty:
            return too_long or [
                blocks.note(NO_BUDGETS if self.statuses.empty else "No budget to chart.")
            ]
        shown = chartable.head(MAX_CHARTED)
        daily = BudgetClient.of(self.analytics).spend_daily(budget_ids=list(shown["id"])).frame
        parts: list[Image | HTML] = [
            blocks.chart(
                _burn_down_chart(_labelled(daily)),
                "Cumulative spend of each budget over its window, with alert level and threshold",
            )
        ]
        parts += too_long
        if len(chartable) > MAX_CHARTED:
            parts.append(
                blocks.note(
                    f"{len(chartable) - MAX_CHARTED} more budgets are in the table above but not "
                    f"charted: the chart shows the {MAX_CHARTED} exceeded or nearest their alert."
                )
            )
        return parts

    def alerts(self) -> HTML:
        """The alert events that fired in the report's window."""
        events = BudgetClient.of(self.analytics).alert_events(self.window).frame
        events = events.assign(
            notified=[
                "muted" if muted else "yes" if notified else "no"
                for notified, muted in zip(events["notified"], events["muted"], strict=True)
            ],
            level_pct=[f"{level:g}%" if pd.notna(level) else "" for level in events["level_pct"]],
        )  # a budget's warnings at 50% and 80% read alike without their level
        return blocks.table(
            events, self.parameters.timezone,
            empty=f"No budget alert fired in {self.window.label}.", columns=ALERT_COLUMNS,
        )  # fmt: skip

    def backtests(self, days: int = BACKTEST_DAYS) -> HTML:
        """Each active budget (the MAX_CHARTED nearest their limit) replayed as it is now over
        the last `days` days: the alerts it would have fired, the runs a hard stop would have
        refused and the spend saved (see `BudgetClient.backtest`)."""
        client = BudgetClient.of(self.analytics)
        active = client.list(active_only=True).frame
        order = {ident: n for n, ident in enumerate(self.statuses["id"])}
        active = active.assign(_order=active["id"].map(order)).sort_values("_order")
        unavailable = set(self.statuses["id"][self.statuses["status"] == "unavailable"])
        active = active[~active["id"].isin(unavailable)]  # the status table says why
        rows = []
        for budget in active.head(MAX_CHARTED).to_dict("records"):
            replay = client.backtest(
                threshold_usd=str(budget["threshold_usd"]),
                period_days=int(budget["period_days"]),
                scope=budget["scope"],
                target=_given(budget["target"]),
                user_id=_given(budget["user_id"]),
                per_user=bool(budget["per_user"]),
                alert_type=budget["alert_type"],
                alert_at_percentage=int(budget["alert_at_percentage"]),
                levels=_levels(budget),
                days=days,
            )
            summary = replay.to_frame().iloc[0]
            rows.append({**budget, **summary[["alerts", "refused", "saved_usd"]].to_dict()})
        frame = pd.DataFrame(rows, columns=[*active.columns, "alerts", "refused", "saved_usd"])
        frame = frame.assign(
            name=frame["name"].fillna(frame["id"]),
            alert_type=frame["alert_type"].str.replace("_", " "),
        )
        return blocks.table(
            frame, self.parameters.timezone,
            empty="No active budgets to replay.", columns=BACKTEST_COLUMNS,
        )  # fmt: skip

    @staticmethod
    def _line(row: dict[str, Any]) -> str:
        """One budget as a line of the plain-text summary."""
        if row["status"] == "unavailable":
            return f"- {row['name']}: cannot be evaluated ({row['reason']})"
        spent = f"{money(row['spend_usd'])} of {money(row['threshold_usd'])}"
        return (
            f"- {row['name']}: {row['status'].upper()}, {spent} "
            f"({percent(row['percent_used'])}) over {row['period_days']} days"
        )

    def _table(self) -> str:
        """Every budget as an HTML table row, the status word coloured."""
        timezone = self.parameters.timezone
        headings = ("Budget", "Scope", "Target", "Type", "Threshold", "Alert at", "Period",
                    "Spend", "Used", "Status", "Projected exhaustion")  # fmt: skip
        rows = []
        for row in self.statuses.to_dict("records"):
            exhaustion = row["projected_exhaustion"]
            rows.append((
                row["name"],
                row["scope"],
                _text(row["target"]) or ("(owner)" if row["scope"] == "user" else ""),
                "hard stop" if row["alert_type"] == "hard_stop" else "warning",
                money(row["threshold_usd"]),
                f"{row['alert_at_percentage']}%",
                f"{row['period_days']} days",
                money(row["spend_usd"]),
                percent(row["percent_used"]),
                _status_cell(row["status"]),
                _exhaustion(row["status"], exhaustion, timezone),
            ))  # fmt: skip
        html: str = blocks.kpi_rows(rows, headings).data
        unavailable = self.statuses[self.statuses["status"] == "unavailable"]
        for row in unavailable.to_dict("records"):
            html += blocks.note(f"{row['name']}: {row['reason']}", kind="warning").data
        return html


def _given(value: object) -> str | None:
    """A text field of a budgets frame, None where it is missing (None or NaN)."""
    return value if isinstance(value, str) else None


def _status_cell(status: str) -> blocks.Cell:
    """The status word, bold in its colour."""
    color = STATUS_COLORS.get(status)
    return blocks.Cell(status, f"color:{color};font-weight:bold" if color else "")


def _exhaustion(status: str, moment: object, timezone: str) -> str:
    """When the threshold is reached at the current burn rate, in words."""
    if status == "exceeded":
        return "reached"
    if moment is None or pd.isna(moment):
        return "not within the period" if status in ("ok", "warning") else ""
    return timestamp(moment, timezone)


def _text(value: object) -> str:
    """A text cell; missing values (None, NaN) as ""."""
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def _labelled(daily: pd.DataFrame) -> pd.DataFrame:
    """`daily` with a `budget` label per budget (a per-user budget: per user): its name, made
    unique when two share one."""
    keys = daily["budget_id"].astype(str) + daily["user_id"].fillna("").astype(str)
    names = daily.assign(_key=keys).groupby("_key")["name"].first().fillna("")
    duplicated = names.duplicated(keep=False) | (names == "")
    labels = {
        key: f"{name or 'budget'} ({key[:8]})" if duplicated[key] else name
        for key, name in names.items()
    }
    labelled = daily.assign(budget=keys.map(labels))
    return labelled[["budget", "day", "cumulative_usd", "alert_level_usd", "threshold_usd"]]


def _burn_down_chart(daily: pd.DataFrame) -> alt.FacetChart:
    """Small multiples: cumulative spend per day, alert level (amber) and threshold (red)."""
    day = alt.X("day:T", title=None, axis=alt.Axis(format="%b %d"))
    spend = (
        alt.Chart()
        .mark_area(line={"color": "#2563eb"}, color="#bfdbfe")
        .encode(x=day, y=alt.Y("cumulative_usd:Q", title="Spend (USD)"))
    )
    alert = (
        alt.Chart().mark_rule(color="#d97706", strokeDash=[4, 3]).encode(y="max(alert_level_usd):Q")
    )
    limit = alt.Chart().mark_rule(color="#dc2626").encode(y="max(threshold_usd):Q")
    chart: alt.FacetChart = (
        alt.layer(spend, alert, limit, data=daily)
        .properties(width=340, height=150)
        .facet(facet=alt.Facet("budget:N", title=None), columns=2)
        .resolve_scale(x="independent", y="independent")
        .properties(title="Spend in each budget's window (amber: alert level, red: threshold)")
    )
    return chart


def _levels(budget: dict[str, Any]) -> list[int]:
    """A budget row's alert levels, as it fires them: its extra levels and alert_at_percentage."""
    return [*budget["alert_levels"], int(budget["alert_at_percentage"])]
