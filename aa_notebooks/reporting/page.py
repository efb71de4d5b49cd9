"""An executed report notebook as HTML: a standalone page, and an email body with CID images.

nbconvert's `basic` template (no code, no prompts) gives the cells' HTML without any script or
stylesheet; this module wraps it in a page with a small stylesheet of its own, so the report
loads nothing from the network and stays small. For email, the charts' `data:` URIs (which
Gmail and Outlook drop) become `cid:` references to image parts, and the CSS is inlined.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

from aa_notebooks.notify import InlineImage
from aa_notebooks.reporting.summary import SUMMARY_TAG

if TYPE_CHECKING:
    from nbformat import NotebookNode

DATA_IMAGE = re.compile(r'src="data:image/(png|jpeg|gif);base64,([A-Za-z0-9+/=\s]+)"')
STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2937;
       margin: 0; background: #f8fafc; }
.aa-report { max-width: 920px; margin: 0 auto; padding: 24px; background: #ffffff; }
h1 { font-size: 24px; margin: 0 0 4px 0; }
h2 { font-size: 18px; margin: 28px 0 8px 0; border-bottom: 1px solid #e5e7eb; padding-bottom: 4px; }
.aa-meta { color: #6b7280; font-size: 13px; margin: 0 0 16px 0; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th { text-align: left; background: #f1f5f9; padding: 6px 10px; border-bottom: 1px solid #cbd5e1; }
td { padding: 5px 10px; border-bottom: 1px solid #e5e7eb; vertical-align: top; }
img { max-width: 100%; height: auto; }
.aa-note { color: #374151; font-size: 13px; }
.aa-warning { background: #fef3c7; border-left: 4px solid #d97706; padding: 8px 12px; }
a.anchor-link { display: none; }
"""


@dataclass(frozen=True)
class RenderedReport:
    """The report as a web page, as an email body with its images, and its summary as text."""

    page: str
    email_html: str
    images: dict[str, InlineImage]
    summary: str


def render(notebook: NotebookNode, title: str) -> RenderedReport:
    """The HTML forms of an executed report notebook (code cells and stderr left out)."""
    from nbconvert import HTMLExporter

    shown = _without_noise(notebook)
    exporter = HTMLExporter(
        template_name="basic",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    body, _ = exporter.from_notebook_node(shown)
    body = body.replace("://", "&#58;//")  # URLs in the data stay text, never a live address
    page = _page(title, body)
    images: dict[str, InlineImage] = {}

    def to_cid(match: re.Match[str]) -> str:
        name = f"chart-{len(images) + 1}"
        data = base64.b64decode(re.sub(r"\s", "", match.group(2)))
        images[name] = InlineImage(data=data, subtype=match.group(1))
        return f'src="cid:{name}"'

    email_body = DATA_IMAGE.sub(to_cid, body)
    return RenderedReport(page, _inline_css(_page(title, email_body)), images, summary(notebook))


def summary(notebook: NotebookNode) -> str:
    """The plain-text summary the cell tagged `summary` displayed ("" when there is none)."""
    for cell in notebook.cells:
        if SUMMARY_TAG in cell.get("metadata", {}).get("tags", []):
            for output in cell.get("outputs", []):
                text = output.get("data", {}).get("text/plain")
                if text:
                    return text if isinstance(text, str) else "".join(text)
    return ""


def _without_noise(notebook: NotebookNode) -> NotebookNode:
    """A copy without stderr streams (warnings, progress bars) and papermill's parameter cells."""
    from nbformat import NotebookNode

    copy = NotebookNode(notebook.copy())
    copy.cells = []
    for cell in notebook.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "parameters" in tags or "injected-parameters" in tags:
            continue
        cell = cell.copy()
        if cell.cell_type == "code":
            cell.outputs = [
                output for output in cell.outputs
                if not (output.output_type == "stream" and output.name == "stderr")
            ]  # fmt: skip
        copy.cells.append(cell)
    return copy


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f'<body><main class="aa-report">{body}</main></body></html>\n'
    )


def _inline_css(page: str) -> str:
    """The page with its stylesheet moved into style attributes (mail clients drop <style>)."""
    import css_inline

    return css_inline.inline(page)
