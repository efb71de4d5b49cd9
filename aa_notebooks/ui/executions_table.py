"""The "Recent Executions" table: one page of executions, each row with a button that opens it.

Rows are a fixed pool of widgets refilled on each page, so paging sends value updates rather
than new widgets to the browser.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets

from aa_notebooks import formatting as fmt
from aa_notebooks.analytics import ExecutionPage
from aa_notebooks.ui.markup import esc, notice, plain, status_badge

HEADERS = ("Query Preview", "Agent", "Status", "Duration", "Tokens", "Cost", "Timestamp")
GRID = "64px minmax(200px, 3fr) minmax(110px, 1.3fr) 90px 85px 80px 80px 190px"


def _cell_html(content: str, title: str = "") -> str:
    """A grid cell's markup: `content` is escaped markup, `title` plain text (the full value)."""
    return f'<div class="aa-ui aa-cell" title="{esc(title)}">{content}</div>' if content else ""


def _cell(content: str) -> widgets.HTML:
    return widgets.HTML(_cell_html(content), layout=widgets.Layout(overflow="hidden"))


class _Row:
    """The widgets of one table row and the execution it shows."""

    def __init__(self, on_open: Callable[[str], None]) -> None:
        self.execution_id: str | None = None
        self._on_open = on_open
        self.button = widgets.Button(
            description="Open", layout=widgets.Layout(width="58px", height="26px")
        )
        self.button.add_class("aa-open-execution")
        self.button.on_click(self._clicked)
        self.cells = [_cell("") for _ in HEADERS]
        self.shown: dict[str, str] = {}

    def _clicked(self, _button: widgets.Button) -> None:
        if self.execution_id is not None:
            self._on_open(self.execution_id)

    @property
    def parts(self) -> list[widgets.Widget]:
        """The row's widgets, in grid order."""
        return [self.button, *self.cells]

    def fill(self, record: dict[str, object], timezone: str) -> None:
        """Show one execution (a row of `ExecutionPage.rows`)."""
        self.execution_id = str(record["id"])
        self.button.tooltip = f"Open execution {self.execution_id} in the trace explorer"
        self.shown = {
            "Query Preview": plain(record["query_preview"]),
            "Agent": plain(record["agent_name"] or record["agent_id"]),
            "Status": str(record["status"]),
            "Duration": fmt.duration_ms(record["execution_time_ms"]) or "–",
            "Tokens": fmt.count(record["total_tokens"]) or "–",
            "Cost": fmt.money(record["cost_usd"]) or "–",
            "Timestamp": fmt.timestamp(record["started_at"], timezone),
        }
        for header, cell in zip(HEADERS, self.cells, strict=True):
            text = self.shown[header]
            content = status_badge(text) if header == "Status" else esc(text)
            cell.value = _cell_html(content, text)
        self.set_visible(True)

    def set_visible(self, visible: bool) -> None:
        for widget in self.parts:
            widget.layout.display = None if visible else "none"


class RecentExecutions:
    """A page of executions with open buttons and previous/next paging."""

    def __init__(
        self, page_size: int, on_open: Callable[[str], None], on_page: Callable[[int], None]
    ) -> None:
        self._rows = [_Row(on_open) for _ in range(page_size)]
        head = [_cell(f'<span class="aa-head">{esc(h)}</span>') for h in ("", *HEADERS)]
        grid = widgets.GridBox(
            head + [w for row in self._rows for w in row.parts],
            layout=widgets.Layout(grid_template_columns=GRID, align_items="center", width="100%"),
        )
        self.page = 1
        self.pages = 0
        self.previous_button = widgets.Button(description="◀ Previous")
        self.next_button = widgets.Button(description="Next ▶")
        self.previous_button.on_click(lambda _: on_page(self.page - 1))
        self.next_button.on_click(lambda _: on_page(self.page + 1))
        self._label = widgets.HTML()
        self._empty = widgets.HTML()
        pager = widgets.HBox([self.previous_button, self._label, self.next_button])
        title = widgets.HTML('<div class="aa-ui"><h4>Recent Executions</h4></div>')
        self._table = widgets.VBox([grid, pager])
        self.widget = widgets.VBox([title, self._empty, self._table])
        self.widget.add_class("aa-recent-executions")
        self.empty_text: str | None = None

    @property
    def rows(self) -> list[dict[str, str]]:
        """The displayed rows (plain text, before escaping), top to bottom."""
        return [row.shown for row in self._rows if row.execution_id is not None]

    @property
    def buttons(self) -> list[widgets.Button]:
        """The open button of each displayed row; `.click()` opens that execution."""
        return [row.button for row in self._rows if row.execution_id is not None]

    def show(self, result: ExecutionPage, timezone: str, empty: str) -> None:
        """Display one page of executions, or `empty` in words when the window has none."""
        records = result.rows.to_dict("records")
        for index, row in enumerate(self._rows):
            if index < len(records):
                row.fill(records[index], timezone)
            else:
                row.execution_id, row.shown = None, {}
                row.set_visible(False)
        self.page, self.pages = result.page, result.pages
        self.empty_text = None if records else empty
        self._empty.value = notice(empty) if not records else ""
        self._table.layout.display = None if records else "none"
        self._label.value = (
            f'<div class="aa-ui" style="padding:6px 10px">Page {result.page:,} of '
            f"{max(result.pages, 1):,} · {result.total:,} executions</div>"
        )
        self.previous_button.disabled = result.page <= 1
        self.next_button.disabled = result.page >= result.pages
