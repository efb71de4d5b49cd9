"""The custom widgets in a real JupyterLab and headless Chromium: the executions grid over
100,000 executions (scroll far, sort, filter, hostile text shown as text, a click and the
keyboard open a trace whose steps show as a waterfall) and a nested waterfall (expand a step,
read its content). No console errors, no dialogs. Screenshots go to artifacts/screenshots/.

Expected rows come from `Analytics.executions` (a plain OFFSET page), not from the grid's own
row-range reader.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from aa_notebooks.analytics import connect
from aa_notebooks.db.engine import dispose_engine
from aa_notebooks.seed import seed_database
from tests.ui.dataset import IMG, SCRIPT
from tests.ui.jupyter_lab import jupyter_lab
from tests.ui.test_browser import OUT, chromium, expect, page, run_all_cells, screenshot

if TYPE_CHECKING:
    from playwright.sync_api import Page

__all__ = ["chromium", "page"]  # fixtures shared with test_browser.py

EXECUTIONS = 100_000
GRID = f"{OUT} .aa-grid"
WATERFALL = f"{OUT} .aa-waterfall"
NESTED_STEPS = [
    {"step_number": 1, "step_type": "action", "content": "delegate to the researcher",
     "duration_ms": 900},
    {"step_number": 2, "step_type": "thought", "content": '{"plan": ["search", "<b>read</b>"]}',
     "duration_ms": 100, "input_tokens": 1200, "output_tokens": 80},
    {"step_number": 3, "step_type": "tool_call", "content": "search the web", "duration_ms": 500,
     "input_tokens": 300, "output_tokens": 40},
    {"step_number": 4, "step_type": "observation", "content": SCRIPT, "duration_ms": 200},
    {"step_number": 5, "step_type": "final_answer", "content": "done", "duration_ms": 50,
     "input_tokens": 900, "output_tokens": 60},
]  # fmt: skip
NESTED_PARENTS = [None, 1, 1, 3, None]  # step 4 is inside the tool call inside the action
MANY = 2_000  # steps of a long flat trace; the last one's content is long (folded at first)
MANY_CELL = (
    "types = ['thought', 'action', 'observation', 'tool_call']\n"
    f"many = [{{'step_number': i + 1, 'step_type': types[i % 4], 'content': f'step {{i + 1}}', "
    f"'duration_ms': 10}} for i in range({MANY})]\n"
    "many[-1]['content'] = 'long ' * 1000\n"
    "TraceWaterfall(many)"
)
NESTED_USAGE = {"step_number": [2, 3, 5], "cost_usd": [0.0042, 0.0011, 0.0029]}


def notebook_cells() -> list[str]:
    return [
        "%load_ext aa_notebooks\nfrom aa_notebooks.ui import TraceWaterfall",
        "view = %agent_analytics executions --period 90d --grid\nview.widget",
        f"import pandas as pd\nusage = pd.DataFrame({NESTED_USAGE!r})\n"
        f"TraceWaterfall({NESTED_STEPS!r}, {NESTED_PARENTS!r}, usage=usage)",
        MANY_CELL,
    ]


@pytest.fixture
def lab(chromium: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """JupyterLab on a notebook of the widgets over 100,000 executions (one with hostile text);
    yields (URL, db URL)."""
    path = tmp_path / "analytics.db"
    url = f"sqlite:///{path}"
    seed_database(url, executions=EXECUTIONS, days=30)
    dispose_engine(url)
    with sqlite3.connect(path) as db:  # the newest execution gets hostile text
        db.execute(
            "UPDATE agentexecutions SET query_preview = ?, agent_name = ? WHERE id = "
            "(SELECT id FROM agentexecutions ORDER BY started_at DESC LIMIT 1)",
            (SCRIPT, IMG),
        )
    cells = [
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
         "source": source}
        for source in notebook_cells()
    ]  # fmt: skip
    notebook = {
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }  # fmt: skip
    (tmp_path / "dashboard.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    with jupyter_lab(tmp_path, {"AA_DATABASE_URL": url}) as server:
        yield server, url


def watch_errors(page: Page) -> list[str]:
    """Console errors, uncaught exceptions and dialogs (an XSS payload running) as they come."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def dialog(d: Any) -> None:  # playwright's Dialog
        errors.append(f"dialog: {d.message}")
        d.dismiss()

    page.on("dialog", dialog)
    return errors


def loaded_rows(page: Page) -> None:
    """Wait until no row on screen is waiting for its page."""
    expect(page.locator(f"{GRID} .aa-grid-row").first).to_be_visible()
    expect(page.locator(f"{GRID} .aa-grid-loading")).to_have_count(0)


def brightness(page: Page, selector: str, prop: str) -> float:
    """The mean of the R, G and B of a computed colour of the first `selector` (0-255)."""
    value = page.locator(selector).first.evaluate(f"e => getComputedStyle(e).{prop}")
    channels = [float(c) for c in re.findall(r"[\d.]+", value)[:3]]
    return sum(channels) / 3


def expect_first_row(page: Page, index: int, execution_id: str) -> None:
    """Wait until the first row on screen is row `index`, showing that execution."""
    row = page.locator(f"{GRID} .aa-grid-row").first
    expect(row).to_have_attribute("data-index", str(index))
    expect(row).to_have_attribute("data-id", execution_id)


def first_row(page: Page) -> tuple[int, str]:
    row = page.locator(f"{GRID} .aa-grid-row").first
    expect(row).to_have_attribute("data-id", re.compile("."))  # its page has arrived
    return int(row.get_attribute("data-index") or -1), row.get_attribute("data-id") or ""


def test_grid_and_waterfall_in_jupyterlab(lab: tuple[str, str], page: Page):
    server, url = lab
    analytics = connect(url)
    errors = watch_errors(page)
    run_all_cells(page, server)
    status = page.locator(f"{GRID} .aa-grid-status")
    expect(status).to_contain_text(f"of {EXECUTIONS:,} executions")
    loaded_rows(page)
    newest = analytics.executions(1, 1, period="90d").rows.iloc[0]
    expect_first_row(page, 0, str(newest["id"]))
    hostile = page.locator(f"{GRID} .aa-grid-row").first.locator(".aa-grid-cell")
    assert hostile.nth(1).inner_text() == SCRIPT and hostile.nth(2).inner_text() == IMG
    screenshot(page, ".aa-grid", "executions-grid.png")

    # scroll far: 80% down the list, the rows there are the database's rows at those offsets
    page.locator(f"{GRID} .aa-grid-viewport").evaluate(
        "v => { v.scrollTop = (v.scrollHeight - v.clientHeight) * 0.8; }"
    )
    expect(page.locator(f"{GRID} .aa-grid-row").first).to_have_attribute(
        "data-index", re.compile(r"^(79|80)\d{3}$")
    )
    loaded_rows(page)
    index, shown_id = first_row(page)
    assert 79_000 < index < 81_000
    expected = analytics.executions(1, 1, period="90d", offset=index).rows.iloc[0]
    assert shown_id == str(expected["id"])
    expect(status).to_contain_text(f"rows {index + 1:,}–")

    # sort by cost, highest first (a click on the header), back at the top
    page.locator(f"{GRID} .aa-grid-th[data-column='cost']").click()
    expect(page.locator(f"{GRID} .aa-grid-th[data-column='cost']")).to_have_attribute(
        "aria-sort", "descending"
    )
    loaded_rows(page)
    costliest = analytics.executions(1, 1, period="90d", sort_by="cost_usd").rows.iloc[0]
    expect_first_row(page, 0, str(costliest["id"]))  # once the sorted list has arrived

    # filter by status, then (any status) by text in the preview: only the hostile one
    page.locator(f"{GRID} select[data-filter='status']").select_option("failure")
    failures = analytics.executions(1, 1, period="90d", status="failure").total
    expect(status).to_contain_text(f"of {failures:,} executions")
    page.locator(f"{GRID} select[data-filter='status']").select_option("")
    expect(status).to_contain_text(f"of {EXECUTIONS:,} executions")
    search = page.locator(f"{GRID} input[data-filter='search']")
    search.fill("alert(")
    search.press("Enter")
    expect(status).to_have_text("rows 1–1 of 1 executions")
    loaded_rows(page)
    assert page.locator(f"{GRID} img, {GRID} script").count() == 0

    # the keyboard opens it: its steps as a waterfall below the grid
    page.locator(f"{GRID} .aa-grid-viewport").focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    detail = analytics.execution(str(newest["id"]))
    assert detail.traces is not None
    steps = page.locator(f"{OUT} .aa-trace-explorer .aa-waterfall .aa-wf-row")
    expect(steps).to_have_count(len(detail.traces))
    shown = [steps.nth(i).get_attribute("data-type") for i in range(steps.count())]
    assert shown == list(detail.traces["step_type"])

    # the nested waterfall: the tool call's observation is folded; expand it, open it
    nested = page.locator(f"{OUT} .aa-waterfall").nth(1)  # after the opened trace's
    rows = nested.locator(".aa-wf-row")
    expect(rows).to_have_count(4)
    expect(nested.locator(".aa-wf-row[data-index='0'] .aa-wf-slowest")).to_have_count(1)
    expect(nested.locator(".aa-wf-row[data-index='1'] .aa-wf-costliest")).to_have_count(1)
    nested.locator(".aa-wf-row[data-index='2'] .aa-wf-toggle").click()
    expect(rows).to_have_count(5)
    inner = nested.locator(".aa-wf-row[data-index='3']")
    expect(inner).to_have_attribute("data-depth", "2")
    inner.click()
    expect(nested.locator(".aa-wf-detail .aa-wf-content")).to_have_text(SCRIPT)
    nested.locator(".aa-wf-row[data-index='1']").click()  # JSON, pretty-printed
    expect(nested.locator(".aa-wf-detail .aa-wf-content")).to_have_text(
        '{\n  "plan": [\n    "search",\n    "<b>read</b>"\n  ]\n}'
    )
    assert nested.locator("b, script").count() == 0
    screenshot(page, ".aa-waterfall >> nth=1", "trace-waterfall.png")
    nested.locator(".aa-wf-viewport").focus()
    page.keyboard.press("Escape")
    expect(nested.locator(".aa-wf-detail")).to_be_hidden()

    # 2,000 steps: only the rows on screen are drawn; End reaches the last, Enter opens its
    # long content folded, "Show all" unfolds it
    many = page.locator(f"{OUT} .aa-waterfall").last
    expect(many.locator(".aa-wf-row").first).to_be_visible()
    assert many.locator(".aa-wf-row").count() < 40
    many.locator(".aa-wf-viewport").focus()
    page.keyboard.press("End")
    last = many.locator(f".aa-wf-row[data-index='{MANY - 1}']")
    expect(last).to_be_visible()
    expect(last.locator(".aa-wf-step")).to_have_text(f"#{MANY}")
    assert many.locator(".aa-wf-row").count() < 40
    page.keyboard.press("Enter")
    more = many.locator(".aa-wf-more")
    expect(more).to_have_text("Show all (5,000 characters)")
    assert len(many.locator(".aa-wf-content").text_content() or "") == 2_000 + len("\n…")
    more.click()
    assert many.locator(".aa-wf-content").text_content() == "long " * 1000

    # JupyterLab's dark theme: the widgets take its colours (dark background, light text)
    for widget in (GRID, WATERFALL):
        assert brightness(page, widget, "backgroundColor") > 200, widget
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^Settings$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile("^Theme$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile("^JupyterLab Dark$")).click()
    expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false")
    for widget in (GRID, WATERFALL):
        assert brightness(page, widget, "backgroundColor") < 80, widget
        assert brightness(page, widget, "color") > 150, widget
    assert brightness(page, f"{GRID} .aa-grid-cursor", "backgroundColor") < 130  # light text
    screenshot(page, ".aa-grid", "executions-grid-dark.png")
    assert errors == []
