"""The KPI cards and percentile panel show the analytics layer's numbers, and follow the period."""

from __future__ import annotations

from aa_notebooks import formatting as fmt
from aa_notebooks.analytics import Analytics, Overview
from aa_notebooks.ui import Dashboard
from tests.ui.dataset import IMG


def expected_kpis(overview: Overview) -> dict[str, str]:
    """The card values the dashboard must show for an overview, formatted by the kit's helpers."""
    return {
        "Total Executions": fmt.count(overview.total_executions),
        "Success Rate": fmt.percent(overview.success_rate) or "–",
        "Avg Response Time": fmt.duration_ms(overview.avg_response_time_ms) or "–",
        "Total Cost": fmt.money(overview.total_cost_usd),
        "Total Tokens": fmt.count(overview.total_tokens),
        "Active Agents": fmt.count(overview.active_agents),
        "P50": fmt.duration_ms(overview.p50_ms) or "–",
        "P95": fmt.duration_ms(overview.p95_ms) or "–",
        "P99": fmt.duration_ms(overview.p99_ms) or "–",
    }


def test_cards_equal_the_overview_of_the_window(dashboard: Dashboard, analytics: Analytics):
    assert dashboard.kpis == expected_kpis(analytics.overview("7d"))


def test_cards_by_hand(dashboard: Dashboard):
    assert dashboard.kpis == {
        "Total Executions": "5",
        "Success Rate": "60.0%",
        "Avg Response Time": "25.50 s",
        "Total Cost": "$1.17",
        "Total Tokens": "2,050",
        "Active Agents": "3",
        "P50": "2.00 s",
        "P95": "1m 37s",
        "P99": "1m 55s",
    }
    details = {card.title: card.detail for card in dashboard.cards}
    assert details["Total Executions"] == "success 3, failure 1, timeout 1"
    assert details["Avg Response Time"] == "P95 1m 37s"
    assert details["Total Cost"] == "$5.01 / month projected"
    assert details["Total Tokens"] == "in 1,600 / out 450"


def test_changes_against_the_previous_window(dashboard: Dashboard, analytics: Analytics):
    window = analytics.window("7d")
    before = analytics.overview(window.previous())
    assert before.total_executions == 2
    changes = {card.title: card.change for card in dashboard.cards}
    assert changes["Total Executions"] == "▲ 150.0% vs previous 7d"
    assert changes["Success Rate"] == "▲ 10.0 pp vs previous 7d"
    assert changes["Avg Response Time"] == "▲ 1545.2% vs previous 7d"
    assert changes["Total Cost"] == "▲ 1014.3% vs previous 7d"
    assert changes["Active Agents"] == "▲ 2 vs previous 7d"


def test_set_period_refreshes_every_card(dashboard: Dashboard, analytics: Analytics):
    dashboard.set_period("30d")
    assert dashboard.period == "30d"
    assert dashboard.window == analytics.window("30d")
    assert dashboard.kpis == expected_kpis(analytics.overview("30d"))
    assert dashboard.kpis["Total Executions"] == "8"
    changes = {card.title: card.change for card in dashboard.cards}
    assert changes["Total Executions"] == "▲ from 0 in previous 30d"  # nothing 30-60 days ago
    assert changes["Success Rate"] == "no data in previous 30d"


def test_custom_dates(dashboard: Dashboard, analytics: Analytics):
    dashboard.set_period(start_date="2026-11-20", end_date="2026-11-24")
    overview = analytics.overview(start_date="2026-11-20", end_date="2026-11-24")
    assert dashboard.kpis == expected_kpis(overview)
    assert dashboard.kpis["Total Executions"] == "4"  # E2 (Nov 24) to E5 (Nov 20)
    assert dashboard.controls.period.value == "Custom dates"
    assert str(dashboard.controls.start_date.value) == "2026-11-20"
    # against the five days before (E6, E7: 2 executions of planner), not the window shown
    changes = {card.title: card.change for card in dashboard.cards}
    assert changes["Total Executions"] == "▲ 100.0% vs 2026-11-15 to 2026-11-19"
    assert changes["Active Agents"] == "▲ 2 vs 2026-11-15 to 2026-11-19"


def test_widget_period_selector_refreshes(dashboard: Dashboard, analytics: Analytics):
    dashboard.controls.period.value = "24h"  # as a click on the toggle does
    dashboard.wait()
    assert dashboard.kpis == expected_kpis(analytics.overview("24h"))
    assert dashboard.kpis["Total Executions"] == "2"


def test_user_scope(dashboard: Dashboard, analytics: Analytics, url: str):
    from aa_notebooks.analytics import connect
    from tests.ui.dataset import NOW, U2

    labels = [label for label, _ in dashboard.controls.scope.options]
    assert labels == ["All users", f"user {dashboard.controls.scope.options[1][1]}", labels[2]]
    dashboard.set_user(str(U2))
    scoped = connect(url, user_id=U2, now=lambda: NOW)
    assert dashboard.kpis == expected_kpis(scoped.overview("7d"))
    assert dashboard.kpis["Total Executions"] == "2"
    assert [row["cells"][2] for row in dashboard.recent.rows(0, 50)] == [IMG, "researcher"]
    dashboard.set_user(None)
    assert dashboard.kpis["Total Executions"] == "5"
