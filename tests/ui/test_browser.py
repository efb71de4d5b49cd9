"""notebooks/dashboard.ipynb in a real JupyterLab and headless Chromium: the dashboard renders,
its KPI values are the analytics layer's, the period selector refreshes them, brushing the
activity chart narrows the cards and the executions grid (and a click clears it), a grid row
opens its trace steps, and Export CSV downloads the view. Screenshots go to artifacts/screenshots/.

Chromium is Debian's (`$AA_CHROMIUM`, default /usr/bin/chromium), driven by Playwright with
`executable_path`: no browser download. Without it the test skips, except under CI=true. Every
selector starts at `.jp-OutputArea`, so code cells that mention the same words never match.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aa_notebooks.analytics import Analytics, connect
from aa_notebooks.db.engine import dispose_engine
from aa_notebooks.seed import seed_database
from tests.ui.jupyter_lab import jupyter_lab
from tests.ui.test_kpis import expected_kpis

if TYPE_CHECKING:
    from playwright.sync_api import Page

try:
    from playwright import sync_api
except ImportError:
    if os.environ.get("CI"):
        raise  # CI must run the browser test
    pytest.skip("playwright is not installed", allow_module_level=True)
expect = sync_api.expect

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
TIMEOUT_MS = 90_000
OUT = ".jp-OutputArea"
BOARD = f"{OUT} .aa-dashboard"
KPI_KEYS = {
    "Total Executions": "total-executions",
    "Success Rate": "success-rate",
    "Avg Response Time": "avg-response-time",
    "Total Cost": "total-cost",
    "Total Tokens": "total-tokens",
    "Active Agents": "active-agents",
    "P50": "p50",
    "P95": "p95",
    "P99": "p99",
}

pytestmark = pytest.mark.slow


@pytest.fixture
def chromium() -> str:
    """Debian's chromium, or skip (fail under CI, which must run this test)."""
    path = os.environ.get("AA_CHROMIUM", "/usr/bin/chromium")
    if not Path(path).exists():
        if os.environ.get("CI"):
            pytest.fail(f"no chromium at {path}: CI must run the browser test")
        pytest.skip(f"no chromium at {path} (apt-get install chromium, or set AA_CHROMIUM)")
    return path


@pytest.fixture
def lab(chromium: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """JupyterLab on a copy of the notebook, over a seeded SQLite file; yields (URL, db URL)."""
    shutil.copy(REPO / "notebooks" / "dashboard.ipynb", tmp_path / "dashboard.ipynb")
    url = f"sqlite:///{tmp_path / 'analytics.db'}"
    seed_database(url, executions=250)
    dispose_engine(url)
    with jupyter_lab(tmp_path, {"AA_DATABASE_URL": url}) as server:
        yield server, url


@pytest.fixture
def page(chromium: str) -> Iterator[Page]:
    """A headless Chromium page, tall enough to show the whole dashboard."""
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_api.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            tab = browser.new_page(viewport={"width": 1400, "height": 3600}, accept_downloads=True)
            tab.set_default_timeout(TIMEOUT_MS)
            yield tab
        finally:
            browser.close()


def run_all_cells(page: Page, server: str) -> None:
    """Open the notebook in a fresh workspace, wait for its kernel, then Run > Run All Cells."""
    page.goto(f"{server}/lab/workspaces/ui-test/tree/dashboard.ipynb?reset")
    expect(page.get_by_role("button", name=re.compile(r"\(ipykernel\) \| Idle$"))).to_be_visible()
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile("^Run All Cells$")).click()


def kpis_on_page(page: Page) -> dict[str, str]:
    """The KPI values as the browser shows them."""
    value = f"{OUT} [data-kpi='{{}}'] .aa-kpi-value"
    return {
        title: page.locator(value.format(key)).inner_text().strip()
        for title, key in KPI_KEYS.items()
    }


def wait_for_refresh(page: Page, total: str) -> None:
    """Wait until Total Executions shows `total` and the refresh that set it has ended."""
    expect(page.locator(f"{OUT} [data-kpi='total-executions'] .aa-kpi-value")).to_have_text(total)
    expect(page.locator(f"{OUT} .aa-status[data-busy='false']")).to_contain_text("Updated")


def screenshot(page: Page, selector: str, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(f"{OUT} {selector}").screenshot(path=SCREENSHOTS / name)


def open_a_trace(page: Page, analytics: Analytics) -> None:
    """Click the first execution of the grid (30d, newest first) that has several steps; its
    steps show in order, as a waterfall and as text."""
    rows = analytics.executions(1, 20, period="30d").rows
    index, detail = next(
        (i, d)
        for i, d in enumerate(analytics.execution(e) for e in rows["id"])
        if d.traces is not None and len(d.traces) > 1
    )
    assert detail.traces is not None
    row = page.locator(f"{BOARD} .aa-grid-row[data-index='{index}']")
    expect(row).to_have_attribute("data-id", str(rows["id"].iloc[index]))
    row.click()
    steps = page.locator(f"{BOARD} .aa-trace-explorer .aa-step")
    expect(steps).to_have_count(len(detail.traces))
    shown = [steps.nth(i).get_attribute("data-step-type") for i in range(steps.count())]
    assert shown == list(detail.traces["step_type"])
    bars = page.locator(f"{BOARD} .aa-trace-explorer .aa-wf-row")
    expect(bars).to_have_count(len(detail.traces))
    assert [bars.nth(i).get_attribute("data-type") for i in range(bars.count())] == shown
    screenshot(page, ".aa-dashboard .aa-trace-explorer", "trace.png")


def brush_the_activity_chart(page: Page, whole: str) -> None:
    """Drag across the middle of the activity chart: the cards and the grid narrow to the same
    executions; a click outside the brush brings back the whole period."""
    plot = page.locator(f"{OUT} .aa-chart-activity svg.marks")
    box = plot.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.45, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=8)
    page.mouse.up()
    message = page.locator(f"{OUT} .aa-dashboard", has_text="Cards and executions show brushed")
    expect(message).to_have_count(1)
    expect(page.locator(f"{OUT} .aa-status[data-busy='false']")).to_contain_text("Updated")
    # The drag may send a last range after the first refresh is shown: wait until the cards
    # and the grid agree, then check that they show part of the period.
    kpi = f"{OUT} [data-kpi='total-executions'] .aa-kpi-value"
    page.wait_for_function(
        """([kpi, grid]) => {
            const total = document.querySelector(kpi)?.textContent.trim();
            const status = document.querySelector(grid)?.textContent ?? "";
            return Boolean(total) && status.includes(`of ${total} executions`);
        }""",
        arg=[kpi, f"{BOARD} .aa-grid-status"],
        timeout=90_000,
    )
    total = page.locator(kpi).inner_text()
    assert 0 < int(total.replace(",", "")) < int(whole.replace(",", ""))
    grid_status = page.locator(f"{BOARD} .aa-grid-status")
    screenshot(page, ".aa-dashboard", "dashboard-brushed.png")
    box = plot.bounding_box()  # again: the screenshot may have scrolled the page
    assert box is not None
    page.mouse.click(box["x"] + box["width"] * 0.1, box["y"] + box["height"] / 2)  # cleared
    wait_for_refresh(page, whole)
    expect(grid_status).to_contain_text(f"of {whole} executions")


def export_csv(page: Page, notebook_dir: Path, executions: int) -> None:
    """Export CSV, then download it through the link: the file holds the view's executions."""
    page.locator(f"{OUT} .aa-controls button", has_text="Export CSV").click()
    with page.expect_download() as started:
        page.locator(f"{OUT} a.aa-download").click()
    download = started.value
    assert download.suggested_filename.startswith("agent-executions_30d_all-users_")
    text = Path(download.path()).read_text(encoding="utf-8")
    assert len(list(csv.reader(io.StringIO(text)))) == 1 + executions
    assert (notebook_dir / download.suggested_filename).read_text(encoding="utf-8") == text


def test_dashboard_notebook_in_jupyterlab(lab: tuple[str, str], page: Page, tmp_path: Path):
    server, url = lab
    analytics = connect(url)
    run_all_cells(page, server)

    seven = expected_kpis(analytics.overview("7d"))
    wait_for_refresh(page, seven["Total Executions"])
    for chart in ("activity", "cost-by-model", "cost-over-time"):
        expect(page.locator(f"{OUT} .aa-chart-{chart} .vega-embed svg.marks")).to_be_visible()
    assert kpis_on_page(page) == seven
    screenshot(page, ".aa-dashboard", "dashboard-7d.png")

    page.locator(f"{OUT} .aa-controls .widget-toggle-button", has_text=re.compile("^30d$")).click()
    thirty = expected_kpis(analytics.overview("30d"))
    wait_for_refresh(page, thirty["Total Executions"])
    assert thirty != seven and kpis_on_page(page) == thirty
    screenshot(page, ".aa-dashboard", "dashboard-30d.png")
    axis_title = page.locator(f"{OUT} .aa-chart-activity .vega-embed svg.marks text")
    expect(axis_title.filter(has_text=re.compile("^Day$"))).to_be_visible()
    # hourly buckets draw another chart; back at 30d the daily one is shown again, new rows
    for period, title in (("24h", "Hour"), ("30d", "Day")):
        page.locator(
            f"{OUT} .aa-controls .widget-toggle-button", has_text=re.compile(f"^{period}$")
        ).click()
        wait_for_refresh(page, expected_kpis(analytics.overview(period))["Total Executions"])
        expect(axis_title.filter(has_text=re.compile(f"^{title}$"))).to_be_visible()
    assert kpis_on_page(page) == thirty

    # the notebook's other cells: the grid on its own (30d) and one trace's waterfall
    alone = page.locator(f"{OUT} .aa-executions-view .aa-grid-status")
    expect(alone).to_contain_text(f"of {thirty['Total Executions']} executions")
    standalone = ".aa-trace-explorer:not(.aa-dashboard *):not(.aa-executions-view *)"
    expect(page.locator(f"{OUT} {standalone} .aa-wf-row").first).to_be_visible()
    brush_the_activity_chart(page, thirty["Total Executions"])
    open_a_trace(page, analytics)
    export_csv(page, tmp_path, int(thirty["Total Executions"]))
