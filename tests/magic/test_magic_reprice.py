"""`%agent_analytics reprice` in a real IPython shell: a dry run shows the difference per model
and writes nothing; the real one writes."""

from __future__ import annotations

import html
from decimal import Decimal

from IPython.core.interactiveshell import InteractiveShell

from aa_notebooks.tracking.reprice import Repricing
from tests.tracking.test_reprice import E3, costs, history  # noqa: F401  (the fixture)


def test_dry_run_then_write(ip: InteractiveShell, history: str) -> None:  # noqa: F811
    ip.run_line_magic("config", f"AgentAnalytics.database_url = {history!r}")
    line = "reprice --start 2026-02-01 --end 2026-03-31"
    dry = ip.run_line_magic("agent_analytics", f"{line} --dry-run -o dry")
    assert isinstance(dry, Repricing) and ip.user_ns["dry"] is dry
    assert dry.difference_usd == Decimal("0.002")  # worked out in the fixture's docstring
    assert costs(history)[0][E3] == Decimal("0")
    shown = ip.display_formatter.format(dry)[0]  # the CLI's text, not the dataclass repr
    assert shown["text/plain"] == str(dry) and "Repricing(" not in shown["text/plain"]
    assert shown["text/html"] == f"<pre>{html.escape(str(dry))}</pre>"
    assert str(dry).startswith("reprice 2026-02-01 to 2026-03-31 (UTC days) with today's prices:")
    ip.run_line_magic("agent_analytics", line)
    assert costs(history)[0][E3] == Decimal("0.008")
