"""A live dashboard in a real JupyterLab (headless Chromium): a run recorded from outside the
kernel appears in the page's grid marked new, and in the Total Executions card.

Reuses test_browser's fixtures (Chromium, the page, JupyterLab on a temporary directory).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
import pytest

from aa_notebooks.db.engine import dispose_engine
from aa_notebooks.db.setup import init_db
from aa_notebooks.tracking import Tracker
from tests.ui.jupyter_lab import jupyter_lab
from tests.ui.test_browser import OUT, chromium, expect, page  # noqa: F401 - fixtures

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.slow
CELL = (
    "from aa_notebooks.analytics import connect\n"
    "from aa_notebooks.ui import Dashboard\n"
    "board = Dashboard(connect(), '24h', live=True, every=1)\n"
    "board"
)

KERNEL = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


@pytest.fixture
def live_lab(chromium: str, tmp_path: Path) -> Iterator[tuple[str, str]]:  # noqa: F811
    """JupyterLab over an empty kit database, with a notebook opening a live dashboard."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CELL)])
    notebook.metadata["kernelspec"] = KERNEL
    nbformat.write(notebook, tmp_path / "live.ipynb")
    url = f"sqlite:///{tmp_path / 'analytics.db'}"
    init_db(url)
    dispose_engine(url)
    with jupyter_lab(tmp_path, {"AA_DATABASE_URL": url}) as server:
        yield server, url


def test_a_recorded_run_arrives_marked_new(
    live_lab: tuple[str, str],
    page: Page,  # noqa: F811
    tmp_path: Path,
) -> None:
    server, url = live_lab
    page.goto(f"{server}/lab/workspaces/live-test/tree/live.ipynb?reset")
    expect(page.get_by_role("button", name=re.compile(r"\(ipykernel\) \| Idle$"))).to_be_visible()
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile("^Run All Cells$")).click()
    total = page.locator(f"{OUT} [data-kpi='total-executions'] .aa-kpi-value")
    expect(total).to_have_text("0")
    expect(page.locator(f"{OUT} .aa-status")).to_contain_text("Live · updated")
    tracker = Tracker(url, spool_dir=tmp_path / "spool", check_budgets=False)
    with tracker.execution(agent_name="<b>from-outside</b>", model="gpt-4o", query="arrived"):
        pass
    assert tracker.flush(timeout=30)
    expect(total).to_have_text("1")
    row = page.locator(f"{OUT} .aa-grid-row.aa-grid-new")
    expect(row).to_have_count(1)
    expect(row.locator(".aa-grid-new-badge")).to_have_text("new")
    expect(row).to_contain_text("<b>from-outside</b>")  # shown as text, not markup
    expect(page.locator(f"{OUT} .aa-grid-row b")).to_have_count(0)
