"""The ReAct steps of an execution as escaped HTML: a colored badge per step type, long content
folded into a `<details>` element (opens on click, no JavaScript), duration and tokens. Steps of
an ingested trace carry their depth in the tree of spans, shown as an indent."""

from __future__ import annotations

import pandas as pd

from aa_notebooks import formatting as fmt
from aa_notebooks.figures.palette import OTHER_COLOR
from aa_notebooks.ui.markup import STEP_COLORS, badge, esc

INDENT_EM = 1.5
LONG_CHARACTERS = 400
LONG_LINES = 8
SUMMARY_CHARACTERS = 160


def is_long(content: str) -> bool:
    """Whether content is folded (shown collapsed with a summary line)."""
    return len(content) > LONG_CHARACTERS or content.count("\n") >= LONG_LINES


def displayed_steps(traces: pd.DataFrame) -> list[dict[str, str]]:
    """The steps as shown, in step order (plain text, before escaping); "Depth" only for steps
    that have one (ingested traces: a nested step is indented under its parent)."""
    shown = []
    for row in traces.itertuples(index=False):
        step = {
            "Step": str(row.step_number),
            "Type": str(row.step_type),
            "Content": "" if pd.isna(row.content) else str(row.content),
            "Duration": fmt.duration_ms(row.duration_ms) or "–",
            "Tokens": f"{fmt.count(row.input_tokens)} in / {fmt.count(row.output_tokens)} out",
        }
        depth = getattr(row, "depth", None)
        if depth is not None and not pd.isna(depth):
            step["Depth"] = str(int(depth))
        shown.append(step)
    return shown


def _content_html(content: str) -> str:
    if not is_long(content):
        return f"<pre>{esc(content)}</pre>"
    first = content[:SUMMARY_CHARACTERS].splitlines()[0] if content.strip() else ""
    return (
        f'<details class="aa-long"><summary>{esc(first)}… '
        f"({len(content):,} characters, click to expand)</summary><pre>{esc(content)}</pre>"
        "</details>"
    )


def step_html(step: dict[str, str]) -> str:
    """One step: number, type badge, duration and tokens, then its content."""
    color = STEP_COLORS.get(step["Type"], OTHER_COLOR)
    depth = int(step.get("Depth", "0"))
    indent = f";margin-left:{depth * INDENT_EM:g}em" if depth else ""
    return (
        f'<div class="aa-step" data-step-type="{esc(step["Type"])}" '
        f'style="border-color:{color}{indent}" data-depth="{depth}">'
        f"<b>#{esc(step['Step'])}</b> {badge(step['Type'], color)}"
        f'<span class="aa-step-meta">{esc(step["Duration"])} · {esc(step["Tokens"])}</span>'
        f"{_content_html(step['Content'])}</div>"
    )
