"""How results look: a heading, labelled facts and tables, as escaped HTML or as plain text.

Everything that comes from the data (agent names, query previews, errors) is escaped here;
values are shaped by `aa_notebooks.formatting`, as in the CLI.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import pandas as pd

from aa_notebooks.analytics.periods import Window
from aa_notebooks.formatting import readable_frame

Facts = Sequence[tuple[str, str]]
_STYLE = "font-family:sans-serif;font-size:13px"
MAX_ROWS = 50


def title(name: str, window: Window | None, scope: str) -> str:
    """The result's name with its window and scope, e.g. "Overview · 7d [...] UTC · all users"."""
    return " · ".join([name, *([str(window)] if window is not None else []), scope])


def text(heading: str, facts: Facts, notes: Sequence[str] = ()) -> str:
    """Plain text for terminals: the heading, then one `label: value` line per fact."""
    width = max((len(label) for label, _ in facts), default=0)
    lines = [heading, *(f"  {label:<{width}}  {value}" for label, value in facts), *notes]
    return "\n".join(lines)


def html_block(
    heading: str, facts: Facts = (), notes: Sequence[str] = (), tables: Sequence[str] = ()
) -> str:
    """Escaped HTML: the heading, a table of facts, warnings, then any rendered tables."""
    rows = "".join(
        f"<tr><th style='text-align:left;padding-right:12px'>{html.escape(label)}</th>"
        f"<td>{html.escape(value)}</td></tr>"
        for label, value in facts
    )
    parts = [f"<h4 style='margin:4px 0'>{html.escape(heading)}</h4>"]
    parts += [f"<table>{rows}</table>"] if rows else []
    parts += [f"<p style='color:#a15c00'>{html.escape(note)}</p>" for note in notes]
    return f"<div style='{_STYLE}'>{''.join(parts)}{''.join(tables)}</div>"


def html_table(frame: pd.DataFrame | None, empty: str = "no executions") -> str:
    """A DataFrame as an escaped HTML table of readable values, cut to MAX_ROWS rows."""
    if frame is None or frame.empty:
        return f"<p><em>{html.escape(empty)}</em></p>"
    shown = readable_frame(frame.head(MAX_ROWS)).to_html(
        index=False, escape=True, na_rep="–", border=0
    )
    more = len(frame) - MAX_ROWS
    return shown + (f"<p><em>… {more:,} more rows</em></p>" if more > 0 else "")
