"""A real IPython shell with the extension loaded, reset between tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell


@pytest.fixture
def ip() -> Iterator[InteractiveShell]:
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "aa_notebooks")
    yield shell
    shell.run_line_magic("config", "AgentAnalytics.database_url = None")
    shell.run_line_magic("config", "AgentAnalytics.user_id = None")
    shell.run_line_magic("config", "AgentAnalytics.timezone = 'UTC'")
    shell.run_line_magic("config", "AgentAnalytics.page_size = 20")
    shell.user_ns.clear()
