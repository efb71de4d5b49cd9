"""Escaped HTML building blocks for the widgets: every value from the data goes through `esc`.

ipywidgets' HTML widget puts its value into the page as markup, so text from the database (query
previews, agent names, errors, trace content) must be escaped before it gets there.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

from aa_notebooks.figures.palette import OTHER_COLOR

STEP_COLORS = {
    "thought": "#7c3aed",
    "action": "#2563eb",
    "observation": "#0d9488",
    "tool_call": "#d97706",
    "final_answer": "#16a34a",
}
"""One color per ReAct step type, shared by the step badges and the timeline chart."""
STATUS_COLORS = {"success": "#16a34a", "failure": "#dc2626", "timeout": "#d97706"}

STYLE = """<style>
.aa-ui {font-family: var(--jp-ui-font-family, sans-serif); font-size: 13px;
  color: var(--jp-ui-font-color1, #222)}
.aa-ui h3 {margin: 4px 0; font-size: 16px}
.aa-ui h4 {margin: 10px 0 4px; font-size: 14px}
.aa-cards {display: flex; flex-wrap: wrap; gap: 10px}
.aa-kpi {border: 1px solid var(--jp-border-color1, #ccc); border-radius: 6px; padding: 8px 12px;
  min-width: 120px; flex: 1 1 120px; background: var(--jp-layout-color1, #fff)}
.aa-kpi-title {font-size: 12px; color: var(--jp-ui-font-color2, #666)}
.aa-kpi-value {font-size: 22px; font-weight: 600; margin: 2px 0; overflow-wrap: anywhere}
.aa-kpi-detail {font-size: 12px; color: var(--jp-ui-font-color2, #666)}
.aa-kpi-change {font-size: 12px; margin-top: 4px; color: var(--jp-ui-font-color2, #666)}
.aa-table {border-collapse: collapse; width: 100%}
.aa-table th, .aa-table td {text-align: left; padding: 4px 8px;
  border-bottom: 1px solid var(--jp-border-color2, #e5e5e5)}
.aa-table td.num, .aa-table th.num {text-align: right}
.aa-cell {padding: 4px 6px; border-bottom: 1px solid var(--jp-border-color2, #e5e5e5);
  overflow: hidden; text-overflow: ellipsis; white-space: nowrap}
.aa-head {font-weight: 600}
.aa-badge {display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff;
  font-size: 11px; font-weight: 600}
.aa-notice {padding: 8px 12px; border-radius: 6px; background: #f3f4f6; color: #374151}
.aa-notice.aa-error {background: #fef2f2; color: #991b1b}
.aa-notice.aa-info {background: #eff6ff; color: #1e3a8a}
.aa-step {border-left: 4px solid; padding: 4px 10px; margin: 6px 0;
  background: var(--jp-layout-color2, #f7f7f7)}
.aa-step pre {white-space: pre-wrap; margin: 4px 0; font-size: 12px}
.aa-step-meta {font-size: 12px; color: var(--jp-ui-font-color2, #666); margin-left: 8px}
.aa-facts th {text-align: left; padding-right: 12px; font-weight: 600}
</style>"""


def plain(value: object) -> str:
    """A value from the data as text; missing (None, NaN) as an en dash."""
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def esc(value: object) -> str:
    """A value from the data as HTML-safe text (missing as an en dash)."""
    return html.escape(plain(value), quote=True)


def badge(text: str, color: str) -> str:
    """A colored pill holding escaped text."""
    return f'<span class="aa-badge" style="background:{color}">{esc(text)}</span>'


def status_badge(status: object) -> str:
    """An execution status as a pill colored by status."""
    return badge(str(status), STATUS_COLORS.get(str(status), OTHER_COLOR))


def notice(text: str, kind: str = "plain") -> str:
    """A message box ("plain", "info" or "error") holding escaped text."""
    return f'<div class="aa-ui"><div class="aa-notice aa-{kind}">{esc(text)}</div></div>'


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int]) -> str:
    """An HTML table; `rows` cells are already-escaped markup, `numeric` columns align right."""

    def cell(tag: str, index: int, content: str) -> str:
        css = ' class="num"' if index in numeric else ""
        return f"<{tag}{css}>{content}</{tag}>"

    head = "".join(cell("th", i, esc(h)) for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(cell("td", i, c) for i, c in enumerate(row)) + "</tr>" for row in rows
    )
    return f'<table class="aa-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def facts(pairs: Sequence[tuple[str, str]]) -> str:
    """Label/value rows; values are already-escaped markup."""
    rows = "".join(f"<tr><th>{esc(label)}</th><td>{value}</td></tr>" for label, value in pairs)
    return f'<table class="aa-facts">{rows}</table>'
