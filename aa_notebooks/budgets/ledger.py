"""The spend ledger: exact spend per scope key and UTC hour, so a check needs no 30-day SUM.

Every writer adds each execution's cost, in whole micro-dollars (cost_usd has 6 decimals, so
this is exact on SQLite too, where NUMERIC is a float), to its keys' rows for the hour it started
in, inside the transaction that inserts the execution (`add_spend`: one upsert per key and hour
of a batch). The increments are atomic upserts: concurrent writers never lose one, and on
PostgreSQL writers to the same key and hour queue on that row.

The ledger is trusted once `rebuild_ledger` has filled it from the executions (marked in
aa_notebooks_meta). Rebuilding is exact under concurrent writers: SQLite runs it as the only
writer; on PostgreSQL it holds an EXCLUSIVE lock on the ledger, so it first waits for every writer
that has already added to the ledger (its executions are then committed and summed) and every
later writer adds its cost after the rebuild commits.
"""

from __future__ import annotations

import weakref
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    delete,
)
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from aa_notebooks.budgets.capabilities import LEDGER_TABLE, capabilities
from aa_notebooks.budgets.money import to_micros
from aa_notebooks.budgets.transactions import write_transaction
from aa_notebooks.budgets.window import floor_hour, utc
from aa_notebooks.db.engine import get_engine
from aa_notebooks.db.spend_ledger import (
    META,
    TRUSTED_KEY,
    LedgerKey,
    execution_keys,
    marked_trusted,
    refill_ledger,
    upsert_spend,
)
from aa_notebooks.errors import SchemaError

_trusted: weakref.WeakSet[Engine] = weakref.WeakSet()


@dataclass(frozen=True, slots=True)
class Spend:
    """What one execution adds: its cost in micro-dollars to its keys, at its start (UTC)."""

    keys: frozenset[LedgerKey]
    micros: int
    started_at: datetime | None


def spends(executions: Iterable[Mapping[str, Any]]) -> list[Spend]:
    """Each execution's Spend; the keys are worked out once per distinct (user, agent, flow)."""
    found: list[Spend] = []
    keys_of: dict[tuple[Any, ...], frozenset[LedgerKey]] = {}
    for execution in executions:
        attributes = tuple(execution.get(name) for name in _KEY_FIELDS)
        keys = keys_of.get(attributes)
        if keys is None:
            keys = keys_of[attributes] = frozenset(execution_keys(execution))
        started = execution.get("started_at")
        micros = to_micros(execution.get("cost_usd") or 0)
        found.append(Spend(keys, micros, None if started is None else utc(started)))
    return found


_KEY_FIELDS = ("user_id", "agent_name", "agent_id", "flow_id")


def add_spend(connection: Connection, added: Iterable[Spend]) -> None:
    """Add the executions' costs to their keys' hourly rows, in the caller's transaction: one
    upsert per (key, hour) the batch touches, however many executions it holds."""
    totals: defaultdict[tuple[str, str, datetime], int] = defaultdict(int)
    for spend in added:
        if spend.micros and spend.started_at is not None:
            hour = floor_hour(spend.started_at)
            for scope, key in spend.keys:
                totals[(scope, key, hour)] += spend.micros
    upsert_spend(connection, totals)


def is_trusted(connection: Connection) -> bool:
    """Whether the ledger has been rebuilt from the executions at least once."""
    engine = connection.engine
    if engine in _trusted:
        return True
    marked = marked_trusted(connection)
    if marked:
        _trusted.add(engine)
    return marked


def rebuild_ledger(engine: Engine) -> None:
    """Refill the ledger from the executions and mark it trusted (exact under concurrency)."""
    with write_transaction(engine) as connection:
        refill_ledger(connection)
        connection.execute(delete(META).where(META.c.key == TRUSTED_KEY))
        connection.execute(META.insert().values(key=TRUSTED_KEY, value="rebuilt"))
    _trusted.add(engine)


def ledger_ready(engine: Engine) -> bool:
    """Whether spend can be read from the ledger: it exists and is trusted (rebuilt if never,
    where this role may write)."""
    if not capabilities(engine).has_ledger:
        return False
    if engine not in _trusted:
        with engine.connect() as connection:
            trusted = is_trusted(connection)
        if not trusted:
            try:
                rebuild_ledger(engine)
            except DBAPIError:  # a role that may only read: spend is summed from the executions
                return False
    return True


def rebuild_spend_ledger(url: str | URL | None = None) -> None:
    """Refill the spend ledger from the executions: run it after loading executions in bulk
    without `apply_spend` (a seed, an import)."""
    engine = get_engine(url)
    if not capabilities(engine).has_ledger:
        raise SchemaError(
            f"this database has no {LEDGER_TABLE} table: budget checks sum the executions "
            "instead; run `aa-notebooks init-db` on the kit's own database to create it"
        )
    rebuild_ledger(engine)
