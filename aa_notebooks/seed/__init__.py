"""Synthetic demo data: `seed_database` fills the kit's tables with realistic, repeatable rows.

The default matches the data contract's "Seeding Test Data": 250 executions over 90 days,
750+ token usage records, 1000+ trace steps and 3 budget alerts. Successes end in final_answer;
failures (10 %) and timeouts (5 %) stop early without one (`generator`). The budgets are a
global warning budget in warning, an agent hard_stop budget exceeded and a user budget just
under its alert percentage (`budgets`). Everything is written in one transaction: a failed seed
leaves the database as it was. On SQLite a seed of more than ROLLBACK_JOURNAL_FROM executions
writes with the rollback journal instead of WAL (`bulk.rollback_journal`), so that it needs no
second copy of the database on disk; readers wait for it meanwhile.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import URL

from aa_notebooks.db.bulk import load_settings, rebuilt_indexes, rollback_journal
from aa_notebooks.db.engine import connection_errors, get_engine
from aa_notebooks.db.rollups.rebuild import rebuild_in
from aa_notebooks.db.rollups.record import begin_writing, end_writing
from aa_notebooks.db.schema import AgentExecution, ExecutionTrace, TokenUsage, table_of
from aa_notebooks.db.setup import init_db
from aa_notebooks.db.url import mask_url
from aa_notebooks.errors import InvalidInputError
from aa_notebooks.seed.budgets import budget_alerts, write_budget_alerts
from aa_notebooks.seed.existing import delete_kit_rows, refuse_existing
from aa_notebooks.seed.report import SeedReport
from aa_notebooks.seed.users import write_users
from aa_notebooks.seed.world import SeedPlan
from aa_notebooks.seed.writer import write_executions
from aa_notebooks.validation import as_utc

__all__ = ["SeedReport", "seed_database"]

ROLLBACK_JOURNAL_FROM = 1_000_000
"""Executions above which a SQLite seed trades concurrent readers for half the disk."""


def seed_database(
    url: str | URL | None = None,
    *,
    executions: int = 250,
    seed: int = 42,
    days: int = 90,
    now: datetime | None = None,
    reset: bool = False,
    progress: bool = False,
) -> SeedReport:
    """Fill the kit's database with `executions` demo executions started over the last `days`.

    The same `seed` and `now` (naive means UTC) give the same rows, ids included. A database
    that already holds executions is refused unless `reset`, which first deletes every execution
    (with its steps and usages), every budget and the demo users.
    """
    _check_arguments(executions, days)
    moment = as_utc(now or datetime.now(UTC))
    if init_db(url).foreign_database:
        raise InvalidInputError(
            "this database belongs to GenAI AgentOS (the kit did not create it): seed a "
            "database of the kit's own instead, e.g. the default one or sqlite:///demo.db"
        )
    plan = SeedPlan(seed=seed, count=executions, now=moment, days=days)
    engine = get_engine(url)
    started = time.perf_counter()
    tables = [table_of(AgentExecution), table_of(ExecutionTrace), table_of(TokenUsage)]
    with (
        connection_errors(engine.url),
        engine.connect() as connection,
        load_settings(connection),
        rollback_journal(connection, executions > ROLLBACK_JOURNAL_FROM),
        connection.begin(),
    ):
        if reset:
            deleted = delete_kit_rows(connection)
        else:
            refuse_existing(connection)
            deleted = 0
        users = write_users(connection)
        begin_writing(connection)
        with rebuilt_indexes(connection, tables, large=executions > ROLLBACK_JOURNAL_FROM):
            written = write_executions(connection, plan, progress=progress)
        end_writing(connection)
        rebuild_in(connection, progress=progress)  # from the rows just written, in this transaction
        budgets = write_budget_alerts(connection, budget_alerts(connection, moment))
    return SeedReport(
        url=mask_url(engine.url.set(drivername=engine.url.get_backend_name())),
        executions=written.executions,
        trace_steps=written.traces,
        token_usages=written.usages,
        budget_alerts=budgets,
        users=users,
        span_start=moment - timedelta(days=days),
        span_end=moment,
        elapsed_seconds=time.perf_counter() - started,
        deleted_executions=deleted,
    )


def _check_arguments(executions: int, days: int) -> None:
    for name, value in (("executions", executions), ("days", days)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidInputError(f"{name} must be a whole number of 1 or more, got {value!r}")
