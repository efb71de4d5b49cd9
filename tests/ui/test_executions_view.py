"""`ExecutionsView` (what `executions --grid` shows): a row click shows that execution's trace
below the grid; an id the front end sends is data, so a hostile or unknown one is a sentence."""

from __future__ import annotations

import html

from aa_notebooks.analytics import Analytics
from aa_notebooks.ui import ExecutionsView
from tests.ui.conftest import html_of
from tests.ui.dataset import SCRIPT, eid


def test_a_click_shows_the_trace_below(analytics: Analytics) -> None:
    view = ExecutionsView(analytics, analytics.window("7d"))
    assert view.grid.total == 5 and view.trace is None
    view.grid.answer({"kind": "open", "id": str(eid(1))})
    assert view.trace is not None and view.trace.execution_id == str(eid(1))
    assert view.trace.waterfall is not None and len(view.trace.waterfall.rows) == 4
    assert view.widget.children[1].children == (view.trace.widget,)
    view.grid.answer({"kind": "open", "id": str(eid(2))})  # the next click replaces it
    assert view.trace.execution_id == str(eid(2))
    assert view.widget.children[1].children == (view.trace.widget,)


def test_a_hostile_id_is_a_sentence(analytics: Analytics) -> None:
    view = ExecutionsView(analytics, analytics.window("7d"))
    view.grid.answer({"kind": "open", "id": SCRIPT})
    assert view.trace is not None and view.trace.error is not None
    assert view.trace.error.startswith("execution id must be")
    markup = "\n".join(html_of(view.widget))
    assert SCRIPT not in markup and html.escape(SCRIPT) in markup
