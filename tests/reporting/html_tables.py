"""Read a report's HTML as a test would read the page: tables as rows of text, images, links."""

from __future__ import annotations

import re
from html.parser import HTMLParser

RESOURCE = re.compile(
    r"""(?:\b(?:src|href|action|poster|srcset)\s*=\s*["']?\s*(?:https?:)?//)"""
    r"""|(?:url\(\s*["']?\s*(?:https?:)?//)|@import""",
    re.I,
)


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self.images: list[str] = []
        self.tags: set[str] = set()
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(dict(attrs).get("src") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def read(html: str) -> _Tables:
    """The page's tables (rows of cell texts, headings first), image sources and tag names."""
    parser = _Tables()
    parser.feed(html)
    return parser


def table_with(html: str, heading: str) -> list[list[str]]:
    """The first table whose first row holds `heading`."""
    for table in read(html).tables:
        if table and heading in table[0]:
            return table
    raise AssertionError(f"no table with the heading {heading!r}")


def text_of(html: str) -> str:
    """The page's visible text, whitespace collapsed."""
    parts: list[str] = []

    class Text(HTMLParser):
        def handle_data(self, data: str) -> None:
            parts.append(data)

    Text(convert_charrefs=True).feed(html)
    return " ".join(" ".join(parts).split())
