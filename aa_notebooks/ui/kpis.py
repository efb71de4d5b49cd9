"""The KPI cards and the P50/P95/P99 panel, from the overview of a window and of the one before.

Each card keeps the text it shows (`Card`), so tests and scripts read exactly what is displayed.
"""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as widgets

from aa_notebooks import formatting as fmt
from aa_notebooks.analytics import Overview
from aa_notebooks.analytics.model_split import coverage_note, unpriced_note
from aa_notebooks.figures import changes
from aa_notebooks.ui.markup import esc

PERCENTILES = ("p50", "p95", "p99")


@dataclass(frozen=True)
class Card:
    """One KPI as shown: title, main value, detail line and change against the previous window."""

    key: str
    title: str
    value: str
    detail: str
    change: str


def cards(now: Overview, before: Overview) -> list[Card]:
    """The six KPI cards and the three percentile cards, in display order."""
    window = now.window
    statuses = ", ".join(f"{k} {fmt.count(v)}" for k, v in now.executions_by_status.items())
    tokens = f"in {fmt.count(now.input_tokens)} / out {fmt.count(now.output_tokens)}"
    projection = f"{fmt.money(now.monthly_projection_usd)} / month projected"
    p95 = f"P95 {fmt.duration_ms(now.p95_ms) or '–'}"
    overall = [
        Card(
            "total-executions",
            "Total Executions",
            fmt.count(now.total_executions),
            statuses,
            changes.relative(now.total_executions, before.total_executions, window),
        ),
        Card(
            "success-rate",
            "Success Rate",
            fmt.percent(now.success_rate) or "–",
            f"{fmt.count(now.executions_by_status.get('success', 0))} successful",
            changes.points(now.success_rate, before.success_rate, window),
        ),
        Card(
            "avg-response-time",
            "Avg Response Time",
            fmt.duration_ms(now.avg_response_time_ms) or "–",
            p95,
            changes.relative(now.avg_response_time_ms, before.avg_response_time_ms, window),
        ),
        Card(
            "total-cost",
            "Total Cost",
            fmt.money(now.total_cost_usd),
            projection,
            changes.relative(now.total_cost_usd, before.total_cost_usd, window),
        ),
        Card(
            "total-tokens",
            "Total Tokens",
            fmt.count(now.total_tokens),
            tokens,
            changes.relative(now.total_tokens, before.total_tokens, window),
        ),
        Card(
            "active-agents",
            "Active Agents",
            fmt.count(now.active_agents),
            "distinct agents",
            changes.absolute(now.active_agents, before.active_agents, window),
        ),
    ]
    percentiles = [
        Card(
            key,
            f"P{n}",
            fmt.duration_ms(getattr(now, f"p{n}_ms")) or "–",
            f"{n}% of executions finish within this",
            changes.relative(getattr(now, f"p{n}_ms"), getattr(before, f"p{n}_ms"), window),
        )
        for key, n in zip(PERCENTILES, (50, 95, 99), strict=True)
    ]
    return overall + percentiles


def _card_html(card: Card) -> str:
    return (
        f'<div class="aa-kpi" data-kpi="{esc(card.key)}">'
        f'<div class="aa-kpi-title">{esc(card.title)}</div>'
        f'<div class="aa-kpi-value">{esc(card.value)}</div>'
        f'<div class="aa-kpi-detail">{esc(card.detail)}</div>'
        f'<div class="aa-kpi-change">{esc(card.change)}</div></div>'
    )


class KpiPanel:
    """The cards row and the response-time percentile panel, as one HTML widget."""

    def __init__(self) -> None:
        self.widget = widgets.HTML()
        self.cards: tuple[Card, ...] = ()

    def show(self, now: Overview, before: Overview) -> None:
        """Display the cards for `now`, with changes against `before`."""
        self.cards = tuple(cards(now, before))
        main = "".join(_card_html(c) for c in self.cards if c.key not in PERCENTILES)
        latency = "".join(_card_html(c) for c in self.cards if c.key in PERCENTILES)
        warning = unpriced_note(now.unpriced_models)
        note = f'<p class="aa-kpi-detail">{esc(warning)}</p>' if warning else ""
        if coverage := coverage_note(now.cost_coverage):
            note += f'<p class="aa-kpi-detail" data-note="cost-coverage">{esc(coverage)}</p>'
        self.widget.value = (
            f'<div class="aa-ui"><div class="aa-cards">{main}</div>{note}'
            f"<h4>Response Time Percentiles</h4>"
            f'<div class="aa-cards" data-panel="percentiles">{latency}</div></div>'
        )
