"""Export CSV: the current view's executions as a file next to the notebook, plus a download link.

The file is written by the analytics layer's streaming `export` into the kernel's working
directory (in JupyterLab, the notebook's folder, where it shows in the file browser), so exports
of any size work. Files up to DOWNLOAD_LIMIT bytes are also offered as an in-browser download
(a `data:` link with the `download` attribute), which needs no server path or extension.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aa_notebooks.analytics import Analytics, Window
from aa_notebooks.ui.markup import esc

DOWNLOAD_LIMIT = 10 * 1024 * 1024


@dataclass(frozen=True)
class Exported:
    """A written export: where it is, how many executions it holds, and its download link."""

    path: Path
    rows: int
    download_url: str | None
    """A `data:text/csv` URL holding the file, or None when it is larger than DOWNLOAD_LIMIT."""

    def html(self) -> str:
        """The message shown in the dashboard: file name, row count and the download link."""
        text = f"Exported {self.rows:,} executions to {self.path.name} (next to this notebook)"
        link = (
            f' <a class="aa-download" href="{self.download_url}" download="{esc(self.path.name)}">'
            f"Download {esc(self.path.name)}</a>"
            if self.download_url
            else " Too large for a browser download: open it from the file browser."
        )
        return f'<div class="aa-ui"><div class="aa-notice aa-info">{esc(text)}.{link}</div></div>'


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-")


def file_name(window: Window, scope: str, at: datetime) -> str:
    """e.g. agent-executions_7d_all-users_20261125T120000Z.csv."""
    stamp = f"{at.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    return f"agent-executions_{_slug(window.label)}_{_slug(scope)}_{stamp}.csv"


def export_csv(analytics: Analytics, window: Window, directory: Path) -> Exported:
    """Write the window's executions (in the client's scope) as CSV into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / file_name(window, analytics.scope, analytics.now())
    result = analytics.export("csv", period=window, path=path)
    assert not isinstance(result, str)
    url = None
    if path.stat().st_size <= DOWNLOAD_LIMIT:
        url = "data:text/csv;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
    return Exported(path=path, rows=result.rows, download_url=url)
