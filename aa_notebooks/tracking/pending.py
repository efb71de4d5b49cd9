"""Spend a writer holds but has not committed: what the hard-stop check adds to the database's.

A record's cost counts here from `submit` until its batch is committed (or spooled, or refused),
under the ledger keys its spend is kept under in the database (`budgets.scope.execution_keys`),
so a check in this process sees every finished run at once, whatever the writer's backlog.
`add` runs in the agent's thread for every finished run, so the keys of each (user, agent, flow)
are worked out once and remembered.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from aa_notebooks.budgets.money import to_micros
from aa_notebooks.db.spend_ledger import LedgerKey, execution_keys
from aa_notebooks.tracking.record import ExecutionRecord

REMEMBERED_KEYS = 4096
"""How many distinct (user, agent, flow) key sets are remembered before starting afresh."""


class PendingSpend:
    """Micro-dollars per ledger key of the records between `submit` and their commit."""

    def __init__(self) -> None:
        self._micros: defaultdict[LedgerKey, int] = defaultdict(int)
        self._keys: dict[tuple[Any, ...], frozenset[LedgerKey]] = {}
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
        for record in records:
            execution = record.execution
            cost = execution.get("cost_usd")
            if not cost or not (micros := to_micros(cost)):
                continue
            keys = self._keys_of(execution)
            with self._lock:
                for key in keys:
                    left = self._micros[key] + sign * micros
                    if left:
                        self._micros[key] = left
                    else:
                        del self._micros[key]

    def _keys_of(self, execution: Mapping[str, Any]) -> frozenset[LedgerKey]:
        """The ledger keys of an execution, from the columns they depend on."""
        get = execution.get
        attributes = (get("user_id"), get("agent_name"), get("agent_id"), get("flow_id"))
        keys = self._keys.get(attributes)
        if keys is None:
            if len(self._keys) >= REMEMBERED_KEYS:
                self._keys = {}
            keys = self._keys[attributes] = frozenset(execution_keys(execution))
        return keys
