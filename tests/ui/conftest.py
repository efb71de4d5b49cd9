"""The widget tests' fixtures: the hand-made dataset on SQLite and PostgreSQL, a fixed clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import ipywidgets as widgets
import pytest

from aa_notebooks.analytics import Analytics, connect
from aa_notebooks.ui import Dashboard
from tests.ui import dataset


@pytest.fixture
def url(db_url: str) -> str:
    """A database holding the hand-made dataset."""
    dataset.load(db_url)
    return db_url


@pytest.fixture
def analytics(url: str) -> Analytics:
    """The analytics client the widgets use, on the dataset's clock."""
    return connect(url, now=lambda: dataset.NOW)


@pytest.fixture
def dashboard(analytics: Analytics, tmp_path: Path) -> Iterator[Dashboard]:
    """A dashboard over the dataset (7d), exporting into the test's directory."""
    board = Dashboard(analytics, export_dir=tmp_path / "exports")
    yield board
    board.wait()


def html_of(widget: widgets.Widget) -> list[str]:
    """The markup of every HTML widget inside `widget`, depth first."""
    found = [widget.value] if isinstance(widget, widgets.HTML) else []
    for child in getattr(widget, "children", ()):
        found += html_of(child)
    return found
