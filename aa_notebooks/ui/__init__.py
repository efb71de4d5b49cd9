"""Interactive widgets: the analytics dashboard and the trace explorer (ipywidgets + Altair),
and two custom widgets whose front end is in `widgets/` (the executions grid, the waterfall).

They show what the analytics layer returns, never numbers of their own; `open_dashboard` and
`open_trace` also turn a missing or unreachable database into a sentence instead of a traceback.
"""

from aa_notebooks.ui.dashboard import Dashboard
from aa_notebooks.ui.executions_grid import ExecutionsGrid
from aa_notebooks.ui.executions_view import ExecutionsView
from aa_notebooks.ui.launch import NoDatabase, open_dashboard, open_trace, opened
from aa_notebooks.ui.trace import TraceExplorer
from aa_notebooks.ui.trace_waterfall import TraceWaterfall

__all__ = [
    "Dashboard",
    "ExecutionsGrid",
    "ExecutionsView",
    "NoDatabase",
    "TraceExplorer",
    "TraceWaterfall",
    "open_dashboard",
    "open_trace",
    "opened",
]
