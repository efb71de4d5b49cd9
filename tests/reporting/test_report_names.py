"""Reports made in the same second into one folder each get a name of their own."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aa_notebooks.reporting import runner

MOMENT = datetime(2026, 12, 7, 9, 30, 15, 123456, tzinfo=UTC)


class _Frozen(datetime):
    @classmethod
    def now(cls, tz=None):  # type: ignore[no-untyped-def, override]
        return MOMENT


@pytest.fixture(autouse=True)
def _same_second(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "datetime", _Frozen)


def test_a_second_report_in_the_same_second_does_not_replace_the_first(tmp_path) -> None:
    first_notebook, first_page = runner._output_paths("cost", tmp_path, None)
    assert first_notebook == tmp_path / "cost-report-20261207-093015.ipynb"
    assert first_page == tmp_path / "cost-report-20261207-093015.html"
    # while the first runs (its notebook there), and after it finished (page written,
    # notebook deleted): each next report takes the next free name
    second_notebook, second_page = runner._output_paths("cost", tmp_path, None)
    first_page.write_text("first")
    first_notebook.unlink()
    _, third_page = runner._output_paths("cost", tmp_path, None)
    assert second_page == tmp_path / "cost-report-20261207-093015-2.html"
    assert second_notebook == tmp_path / "cost-report-20261207-093015-2.ipynb"
    assert third_page == tmp_path / "cost-report-20261207-093015-3.html"
    assert first_page.read_text() == "first"


def test_a_named_output_keeps_its_name_and_claims_its_notebook(tmp_path) -> None:
    target = tmp_path / "weekly.html"
    notebook, page = runner._output_paths("budget", tmp_path, target)
    again, page_again = runner._output_paths("budget", tmp_path, target)
    assert page == page_again == target
    assert notebook == tmp_path / "weekly-executed-20261207-093015-123456.ipynb"
    assert again == tmp_path / "weekly-executed-20261207-093015-123456-2.ipynb"
    assert notebook.exists() and again.exists()
