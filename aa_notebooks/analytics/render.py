"""How results look: a heading, labelled facts and tables, as escaped HTML or as plain text.

Everything that comes from the data (agent names, query previews, errors) is escaped here;
values are shaped by `aa_notebooks.formatting`, as in the CLI. A DataFrame the kit made
carries its heading, facts and notes in `attrs` (`frames.described`); `frame_text` and
`frame_html` show them above the table, for the CLI, the typed results and the magic alike.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from aa_notebooks import formatting as fmt
from aa_notebooks.analytics.frames import window_of
from aa_notebooks.analytics.periods import Window
from aa_notebooks.formatting import readable_frame

Facts = Sequence[tuple[str, str]]
_STYLE = "font-family:sans-serif;font-size:13px"
MAX_ROWS = 50


def title(name: str, window: Window | None, scope: str | None) -> str:
    """The result's name with its window and scope, e.g. "Overview · 7d [...] UTC · all users"."""
    parts = [name, *([str(window)] if window is not None else []), *([scope] if scope else [])]
    return " · ".join(parts)


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


def html_table(
    frame: pd.DataFrame | None,
    empty: str = "no executions",
    timezone: str = "UTC",
    max_rows: int = MAX_ROWS,
) -> str:
    """A DataFrame as an escaped HTML table of readable values, cut to `max_rows` rows."""
    if frame is None or frame.empty:
        return f"<p><em>{html.escape(empty)}</em></p>"
    shown: str = readable_frame(frame.head(max_rows), timezone).to_html(
        index=False, escape=True, na_rep="–", border=0
    )
    more = len(frame) - max_rows
    return shown + (f"<p><em>… {more:,} more rows</em></p>" if more > 0 else "")


def frame_heading(attrs: Mapping[str, Any]) -> str:
    """The heading of a described frame: title, window and scope."""
    return title(str(attrs["title"]), window_of(attrs), attrs.get("scope"))


def frame_facts(attrs: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The facts a described frame shows under its heading (paging of the executions list)."""
    facts = []
    if "page" in attrs:
        facts.append(("Page", _page_of(attrs["page"], attrs.get("pages"))))
    if "total" in attrs:
        facts.append(("Matching executions", fmt.count(attrs["total"])))
    if "sort_by" in attrs:
        facts.append(("Sorted by", f"{attrs['sort_by']} {attrs.get('sort_order', '')}".strip()))
    return facts


def _page_of(page: int, pages: int | None) -> str:
    """ "2 of 5"; no matching row is one empty page, and a page past the last says so."""
    if pages is None:
        return f"{page} of ?"
    last = max(pages, 1)
    return f"{page} of {last}" + (f" (past the last page, {last})" if page > last else "")


def _described(frame: pd.DataFrame) -> tuple[str, list[tuple[str, str]], list[str]] | None:
    """Heading, facts and notes of a frame the kit described, or None for any other frame.

    pandas carries attrs through filters and aggregations, so a frame whose row count is no
    longer the kit's says it is derived and drops the facts that described the original rows.
    """
    attrs = frame.attrs
    if "title" not in attrs:
        return None
    heading, facts = frame_heading(attrs), frame_facts(attrs)
    if attrs.get("rows", len(frame)) != len(frame):
        heading, facts = f"Derived from {heading}", []
    return heading, facts, [str(note) for note in attrs.get("notes", ())]


def frame_text(frame: pd.DataFrame, timezone: str = "UTC", max_rows: int | None = None) -> str:
    """Plain text of a frame: its heading, facts and notes when described, then its rows."""
    rows = "(no rows)" if frame.empty else _readable_text(frame, timezone, max_rows)
    described = _described(frame)
    if described is None:
        return rows
    heading, facts, notes = described
    return text(heading, facts, notes) + "\n" + rows


def frame_html(frame: pd.DataFrame, timezone: str = "UTC", max_rows: int = MAX_ROWS) -> str:
    """Escaped HTML of a frame: heading, facts and notes when described, then its rows."""
    table = html_table(frame, "no rows", timezone, max_rows)
    described = _described(frame)
    if described is None:
        return table
    heading, facts, notes = described
    return html_block(heading, facts, notes, tables=[table])


def _readable_text(frame: pd.DataFrame, timezone: str, max_rows: int | None) -> str:
    shown = frame if max_rows is None else frame.head(max_rows)
    lines: str = readable_frame(shown, timezone).to_string(index=False, na_rep="–")
    more = len(frame) - len(shown)
    return lines + (f"\n… {more:,} more rows" if more > 0 else "")
