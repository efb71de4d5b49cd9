"""`TraceWaterfall`: one execution's steps as a waterfall, nested by parent, on one time axis.

The rows come from `waterfall_rows`; the front end (`widgets/trace_waterfall.js`) draws only the
rows on screen, expands and collapses subtrees (`expanded`) and shows the selected step's full
content (`detail`, set here: JSON pretty-printed, other text as it is).
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence
from typing import Any

import anywidget
import pandas as pd
import traitlets as t

from aa_notebooks import formatting as fmt
from aa_notebooks.analytics import ExecutionDetail
from aa_notebooks.ui.assets import asset
from aa_notebooks.ui.trace_tree import WaterfallRow, step_costs, waterfall_rows

PREVIEW_CHARACTERS = 120
OPEN_DEPTH = 1
"""Rows up to this depth start expanded (roots show their children, deeper subtrees fold)."""


def pretty(content: str) -> tuple[str, str]:
    """The content to show and its format: JSON objects and lists indented, else the text."""
    text = content.strip()
    if text[:1] in "[{":
        try:
            return json.dumps(json.loads(text), indent=2, ensure_ascii=False), "json"
        except (ValueError, RecursionError):  # not JSON, or nested past what Python reads
            pass
    return content, "text"


def _preview(content: str) -> str:
    line = " ".join(content.split())
    return line if len(line) <= PREVIEW_CHARACTERS else line[: PREVIEW_CHARACTERS - 1] + "…"


def _mark(rows: Sequence[WaterfallRow], value: Any) -> int:
    """The index of the row with the largest known value (first on ties), or -1."""
    known = [(v, -row.index) for row in rows if (v := value(row)) is not None]
    return -max(known)[1] if known else -1


def _shown(row: WaterfallRow) -> dict[str, Any]:
    tokens = "–"
    if row.input_tokens is not None or row.output_tokens is not None:
        tokens = f"{fmt.count(row.input_tokens or 0)} in / {fmt.count(row.output_tokens or 0)} out"
    return {
        "index": row.index,
        "parent": row.parent,
        "depth": row.depth,
        "children": len(row.children),
        "step": "" if row.step_number is None else f"#{row.step_number}",
        "type": row.step_type,
        "preview": _preview(row.content),
        "start": row.start_ms,
        "duration": row.duration_ms,
        "duration_text": fmt.duration_ms(row.duration_ms) or "–",
        "tokens": tokens,
        "cost": "–" if row.cost_usd is None else fmt.money(row.cost_usd),
    }


class TraceWaterfall(anywidget.AnyWidget):
    """Steps as rows with bars on the trace's time axis; click a row for its whole content."""

    _esm = asset("trace_waterfall.js")
    _css = asset("trace_waterfall.css")

    rows = t.List(t.Dict(), help="Every step as shown, parents before children.").tag(sync=True)
    total_ms = t.Float(0.0, help="The time axis' length: the end of the last step.").tag(sync=True)
    expanded = t.List(t.Int(), help="Rows whose children are shown.").tag(sync=True)
    selected = t.Int(-1, help="The row whose content is shown (-1: none).").tag(sync=True)
    detail = t.Dict(help="The selected step: title, content and its format.").tag(sync=True)
    slowest = t.Int(-1).tag(sync=True)
    costliest = t.Int(-1).tag(sync=True)
    row_height = t.Int(26).tag(sync=True)
    height = t.Int(360, help="The scrolling area's height in pixels.").tag(sync=True)

    def __init__(
        self,
        steps: pd.DataFrame | Sequence[dict[str, Any]],
        parents: Sequence[Hashable | None] | None = None,
        *,
        usage: pd.DataFrame | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.steps = waterfall_rows(steps, parents, step_costs=step_costs(usage))
        """The rows as `WaterfallRow`s (numbers, not text)."""
        shown = [_shown(row) for row in self.steps]
        ends = [row.start_ms + (row.duration_ms or 0) for row in self.steps]
        with self.hold_sync():
            self.rows = shown
            self.total_ms = max(ends, default=0.0)
            self.expanded = [row.index for row in self.steps if row.depth < OPEN_DEPTH]
            self.slowest = _mark(self.steps, lambda row: row.duration_ms)
            self.costliest = _mark(self.steps, lambda row: row.cost_usd)
        self.observe(self._select, names=["selected"])

    @classmethod
    def of(cls, detail: ExecutionDetail, **kwargs: Any) -> TraceWaterfall:
        """The waterfall of an execution's detail (its steps, and its usage for the costs)."""
        steps = detail.traces if detail.traces is not None else pd.DataFrame()
        parents = None
        if "parent_step" in steps.columns:  # ingested traces nest; recorded ReAct lists do not
            parents = [None if pd.isna(p) else int(p) for p in steps["parent_step"]]
        return cls(steps, parents, usage=detail.token_usage, **kwargs)

    @property
    def visible(self) -> list[int]:
        """The rows shown now (children of collapsed rows hidden), top to bottom."""
        open_rows = set(self.expanded)
        hidden: set[int] = set()
        out = []
        for row in self.steps:
            if row.parent is not None and (row.parent in hidden or row.parent not in open_rows):
                hidden.add(row.index)
                continue
            out.append(row.index)
        return out

    def expand(self, index: int, *, open: bool = True) -> None:
        """Show (or with open=False hide) the children of a row, as its toggle does."""
        rest = [i for i in self.expanded if i != index]
        self.expanded = [*rest, index] if open else rest

    def select(self, index: int) -> None:
        """Show a row's whole content, as a click on it does (-1 closes it)."""
        self.selected = index

    def _select(self, _change: Any) -> None:
        index = self.selected
        if not 0 <= index < len(self.steps):
            self.detail = {}
            return
        row = self.steps[index]
        content, kind = pretty(row.content)
        step = "" if row.step_number is None else f"Step {row.step_number} · "
        self.detail = {
            "index": index,
            "title": f"{step}{row.step_type} · {fmt.duration_ms(row.duration_ms) or '–'}",
            "content": content,
            "format": kind,
        }
