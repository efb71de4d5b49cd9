"""Spend a writer holds but has not committed: what the hard-stop check adds to the database's.

A record's cost counts here from `submit` until its batch is committed (or spooled, or refused),
under the ledger keys its spend is kept under in the database (`budgets.ledger.spends`), so a
check in this process sees every finished run at once, whatever the writer's backlog.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable

from aa_notebooks.budgets.ledger import spends
from aa_notebooks.budgets.scope import LedgerKey
from aa_notebooks.tracking.record import ExecutionRecord


class PendingSpend:
    """Micro-dollars per ledger key of the records between `submit` and their commit."""

    def __init__(self) -> None:
        self._micros: defaultdict[LedgerKey, int] = defaultdict(int)
        self._lock = threading.RLock()  # re-entered by a signal handler that interrupts it

    def add(self, record: ExecutionRecord) -> None:
        """Count a record handed to the writer."""
        self._change([record], 1)

    def remove(self, records: Iterable[ExecutionRecord]) -> None:
        """Stop counting records whose batch is committed, spooled or refused."""
        self._change(records, -1)

    def micros(self, key: LedgerKey) -> int:
        """The uncommitted spend of one ledger key."""
        return self._micros.get(key, 0)

    def _change(self, records: Iterable[ExecutionRecord], sign: int) -> None:
        costly = [r.execution for r in records if r.execution.get("cost_usd")]
        if not costly:
            return
        for spend in spends(costly):
            if not spend.micros:
                continue
            with self._lock:
                for key in spend.keys:
                    left = self._micros[key] + sign * spend.micros
                    if left:
                        self._micros[key] = left
                    else:
                        del self._micros[key]
