"""The pieces report notebooks display: header, KPI table, tables, notes and charts as images.

Every text from the data is escaped here; charts are PNG images made by vl-convert, so they show
without JavaScript or network, in a browser and in a mail client.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

import altair as alt
import pandas as pd
from IPython.display import HTML, Image

from aa_notebooks.formatting import readable_frame, timestamp

CHART_SCALE = 1.5  # sharp on high-density screens; the palette PNG stays small


def header(
    title: str,
    scope: str,
    period: str,
    generated_at: datetime,
    timezone: str,
    *,
    warnings: Sequence[str] = (),
) -> HTML:
    """The report's title line with whose data, which period and when it was made; then
    `warnings` about the data itself (times stored so that windows miss rows)."""
    notes = "".join(note(warning, kind="warning").data for warning in warnings)
    return HTML(
        f'<div class="aa-header"><h1>{escape(title)}</h1>'
        f'<p class="aa-meta">Scope: <b>{escape(scope)}</b> · Period: <b>{escape(period)}</b>'
        f" · Generated {escape(timestamp(generated_at, timezone))}</p></div>{notes}"
    )


def note(text: str, *, kind: str = "info") -> HTML:
    """A one-paragraph remark; kind "warning" draws attention."""
    return HTML(f'<p class="aa-note aa-{escape(kind)}">{escape(text)}</p>')


def table(frame: pd.DataFrame, timezone: str, *, empty: str, columns: dict[str, str]) -> HTML:
    """`frame`'s `columns` (name -> heading) as a readable, escaped table; `empty` if no rows."""
    if frame.empty:
        return note(empty)
    shown = readable_frame(frame[list(columns)], timezone).rename(columns=columns)
    shown = shown.fillna("")
    return HTML(shown.to_html(index=False, escape=True, border=0, classes="aa-table"))


@dataclass(frozen=True)
class Cell:
    """A table cell with an inline style (inline, so it survives mail clients)."""

    text: str
    style: str = ""


def kpi_rows(rows: Iterable[Sequence[str | Cell]], headings: Sequence[str]) -> HTML:
    """A small table of already formatted values (metric, this period, previous, change)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headings)
    body = "".join("<tr>" + "".join(_cell(cell) for cell in row) + "</tr>" for row in rows)
    return HTML(
        f'<table class="aa-table aa-kpis"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def _cell(cell: str | Cell) -> str:
    if isinstance(cell, Cell) and cell.style:
        return f'<td style="{escape(cell.style)}">{escape(cell.text)}</td>'
    return f"<td>{escape(cell.text if isinstance(cell, Cell) else cell)}</td>"


def chart(chart: alt.TopLevelMixin, description: str) -> Image:
    """The chart as a PNG image (no JavaScript needed to see it), drawn without network access,
    at CHART_SCALE times its size for sharp screens and shown at its size; `description` is the
    image's alternative text."""
    import vl_convert

    with alt.data_transformers.disable_max_rows():  # drawn here, not sent to a browser
        spec = chart.to_dict()
    png = vl_convert.vegalite_to_png(
        xml_safe(spec),
        scale=CHART_SCALE,
        config={"background": "white"},
        allowed_base_urls=[],
    )
    width = int.from_bytes(png[16:20], "big")  # the PNG header's IHDR width
    return Image(
        data=compact_png(png), format="png", width=round(width / CHART_SCALE), alt=description
    )


_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(value: Any) -> Any:
    """A chart spec with every character XML cannot hold (control characters an agent's name
    may carry) shown as U+FFFD: vl-convert draws text as SVG, and aborts the whole process on
    one of them rather than raise."""
    if isinstance(value, str):
        return _NOT_IN_XML.sub("\ufffd", value)
    if isinstance(value, list):
        return [xml_safe(item) for item in value]
    if isinstance(value, dict):
        return {xml_safe(key): xml_safe(item) for key, item in value.items()}
    return value


def compact_png(png: bytes) -> bytes:
    """The same picture in a palette PNG, about a tenth of vl-convert's RGBA size: charts have
    few colours, and the email must stay small."""
    from PIL import Image as Picture

    picture = Picture.open(io.BytesIO(png)).convert("RGB")
    palette = picture.quantize(colors=256, method=Picture.Quantize.MEDIANCUT)
    buffer = io.BytesIO()
    palette.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
