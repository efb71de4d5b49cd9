"""`ExecutionsView`: the executions grid on its own, with the trace explorer of the execution
clicked last below it (what `%agent_analytics executions --grid` shows)."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from aa_notebooks.analytics import Analytics, Window
from aa_notebooks.ui.executions_grid import ExecutionsGrid
from aa_notebooks.ui.trace import TraceExplorer


class ExecutionsView:
    """A grid of `window`'s executions; a click on a row shows its trace below the grid."""

    def __init__(
        self,
        analytics: Analytics,
        window: Window,
        *,
        timezone: str = "UTC",
        **grid_traits: Any,
    ) -> None:
        self._analytics = analytics
        self._timezone = timezone
        self.trace: TraceExplorer | None = None
        """The trace explorer of the execution opened last, or None."""
        self._trace_area = widgets.VBox()
        self.grid = ExecutionsGrid(on_open=self._open, timezone=timezone, **grid_traits)
        self.grid.show(analytics, window)
        self.widget = widgets.VBox([self.grid, self._trace_area])
        self.widget.add_class("aa-executions-view")

    def open(self, execution_id: str) -> TraceExplorer:
        """Show one execution's trace below the grid."""
        self.trace = TraceExplorer(self._analytics, execution_id, timezone=self._timezone)
        self._trace_area.children = (self.trace.widget,)
        return self.trace

    def _open(self, execution_id: str) -> None:
        self.open(execution_id)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        bundle: dict[str, Any] | None = self.widget._repr_mimebundle_(**kwargs)
        return bundle
