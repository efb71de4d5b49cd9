"""The cost report's HTML in headless Chromium with JavaScript off: it asks the network for
nothing, and its charts show. A screenshot goes to artifacts/screenshots/."""

from __future__ import annotations

import pytest

from aa_notebooks.reporting import run_report
from tests.reporting.conftest import AS_OF
from tests.ui.test_browser import CHROMIUM_FLAGS, SCREENSHOTS, chromium, sync_api

__all__ = ["chromium"]  # the fixture, shared with the dashboard's browser test
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_report_renders_offline_without_javascript(
    report_db: str, tmp_path, chromium: str
) -> None:
    result = run_report(
        "cost", database_url=report_db, as_of=AS_OF, output_dir=tmp_path, progress=False
    )
    requested: list[str] = []
    with sync_api.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context(java_script_enabled=False, offline=True)
            page = context.new_page()
            page.on("request", lambda request: requested.append(request.url))
            page.goto(result.html_path.as_uri())
            page.wait_for_load_state("load")
            images = page.locator("img")
            assert images.count() == 3
            for index in range(3):
                image = images.nth(index)
                width = image.evaluate("img => img.complete ? img.naturalWidth : 0")
                assert width > 300  # decoded, and as wide as a chart
                assert image.bounding_box()["width"] > 250  # laid out, not hidden
            assert page.locator("h1").inner_text() == "Agent cost report"
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "cost-report.png"), full_page=True)
        finally:
            browser.close()
    assert [url for url in requested if not url.startswith(("file://", "data:"))] == []
